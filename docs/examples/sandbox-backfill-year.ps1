# A bigger sandbox to feel the backfill's speed: 2 tenants x 365 days, then a re-run that does nothing.
# Run in pwsh (dotnet pwsh from the repository): Import-Module ./out/PhoodWarehouse/PhoodWarehouse.psd1; ./docs/examples/sandbox-backfill-year.ps1
$ErrorActionPreference = 'Stop'
$sandbox = Start-WhSandbox -TenantCount 2 -Days 365
try {
    $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Null
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $days = @(Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-364)) -ThrottleLimit 2)
    "First run: $($days.Count) days in $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s" | Out-Default
    $watch.Restart()
    $again = @(Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-364)))
    "Re-run: $(@($again | Where-Object Action -eq 'Skipped').Count) of $($again.Count) days skipped in $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s" | Out-Default
    Get-WhTenant | Out-Default
}
finally {
    Stop-WhSandbox -Sandbox $sandbox
}
