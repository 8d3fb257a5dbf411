# Shared by every tests/Pester/*.Tests.ps1 (dot-sourced in BeforeAll and BeforeDiscovery): where things are, and how
# to run a script in a fresh pwsh process, as a DBA's terminal or a scheduled job would.
$RepositoryRoot = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..', '..'))
$ModuleManifest = [System.IO.Path]::Combine($RepositoryRoot, 'out', 'PhoodWarehouse', 'PhoodWarehouse.psd1')

function Get-ExportedCmdletName {
    (Import-PowerShellDataFile ([System.IO.Path]::Combine($RepositoryRoot, 'module', 'PhoodWarehouse.psd1'))).CmdletsToExport
}

# Runs -Command in a new pwsh (this one's executable: the dotnet tool runs as dotnet pwsh.dll). Output is plain text
# (NO_COLOR, redirected), 200 columns wide; returns the exit code and the combined output lines.
function Invoke-Pwsh {
    param(
        [Parameter(Mandatory)] [string] $Command,
        [hashtable] $Environment = @{},
        [string] $WorkingDirectory = $RepositoryRoot
    )
    $start = [System.Diagnostics.ProcessStartInfo]::new()
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $start.FileName = [Environment]::ProcessPath
        $start.ArgumentList.Add([System.IO.Path]::Combine($PSHOME, 'pwsh.dll'))
    } else {
        $start.FileName = [Environment]::ProcessPath
    }
    foreach ($argument in '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
    $start.WorkingDirectory = $WorkingDirectory
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.UseShellExecute = $false
    $start.Environment['NO_COLOR'] = '1'
    $start.Environment['COLUMNS'] = '200'
    foreach ($name in $Environment.Keys) { $start.Environment[$name] = [string]$Environment[$name] }
    $process = [System.Diagnostics.Process]::Start($start)
    $errors = $process.StandardError.ReadToEndAsync()
    $output = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    [pscustomobject]@{
        ExitCode = $process.ExitCode
        Output   = ($output -split "`r?`n")
        Errors   = $errors.Result
    }
}
