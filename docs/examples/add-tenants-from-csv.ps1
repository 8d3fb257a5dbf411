# Add tenants from a CSV file and load their last month, one credential for all sources.
#   tenants.csv:  Name,ClientName,SourceServer,SourcePort,SourceDatabase
#                 north_campus,North Campus,db1.internal,5432,phood_north
# Usage: ./add-tenants-from-csv.ps1 -Path tenants.csv -SourceCredential (Get-Credential reader)
# Uses only the engine's core cmdlets and .NET (no Import-Csv), so it also runs in the engine the xUnit tests host.
param(
    [Parameter(Mandatory)] [string] $Path,
    [Parameter(Mandatory)] [pscredential] $SourceCredential,
    [int] $Days = 30
)
$ErrorActionPreference = 'Stop'

$lines = @([System.IO.File]::ReadAllLines([System.IO.Path]::GetFullPath($Path)) | Where-Object { $_.Trim() })
if ($lines.Count -lt 2) { throw "$Path holds no tenants (a header line and one line per tenant)." }
$header = $lines[0].Split(',')
$tenants = foreach ($line in $lines[1..($lines.Count - 1)]) {
    $values = $line.Split(',')
    $row = [ordered]@{}
    for ($i = 0; $i -lt $header.Count; $i++) { $row[$header[$i].Trim()] = $values[$i].Trim() }
    [pscustomobject]$row
}

# Every column binds by name: Name, ClientName, SourceServer, SourcePort, SourceDatabase.
$tenants | New-WhTenant -SourceCredential $SourceCredential -WhatIf
$tenants | New-WhTenant -SourceCredential $SourceCredential | Out-Default

# One month, four days at a time, failed days reported and retried by running the same line again.
$tenants | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(1 - $Days)) -ThrottleLimit 4 |
    Where-Object Action -eq 'Failed' | Out-Default
Get-WhTenant -Name @($tenants.Name) | Out-Default
