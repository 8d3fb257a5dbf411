# A scheduled load (cron, Task Scheduler, a CI job): every tenant it can, then an exit code that says whether anything
# failed, and which days, on standard error. One unreachable tenant does not stop the others.
# Usage: pwsh -NoProfile -File ./nightly-load.ps1 [-Days 2] [-Template foodlogstats]
#   The warehouse comes from $env:PHOOD_WH, a connection string without a password (whadmin's is in ~/.pgpass, as an
#   unattended script should have it), or from -ConnectionString.
param(
    [int] $Days = 2,
    [string] $Template = 'foodlogstats',
    [string] $ConnectionString = $env:PHOOD_WH
)
# A mistake in the script itself (a typo, no warehouse) stops it at once, with exit code 1 ...
$ErrorActionPreference = 'Stop'
Import-Module PhoodWarehouse -ErrorAction SilentlyContinue
Connect-WhWarehouse -ConnectionString $ConnectionString | Out-Null

# ... but a tenant's failed day is a result, not the end of the run: -ErrorAction Continue for the load only, so every
# tenant is tried (with 'Stop', the first failed day would end the pipeline before the other tenants). The day's error
# is in its result (Error); the error records themselves are not needed here.
$results = @(Get-WhTenant | Invoke-WhMvBackfill -Template $Template -From ([datetime]::Today.AddDays(1 - $Days)) -ErrorAction Continue 2>$null)

$failed = @($results | Where-Object Action -eq 'Failed')
$loaded = @($results | Where-Object Action -in 'Created', 'Refreshed', 'Recreated')
"Loaded $($loaded.Count) day(s) of $(@($results.Tenant | Sort-Object -Unique).Count) tenant(s); $($failed.Count) failed."
if ($failed.Count -gt 0) {
    foreach ($day in $failed) { [Console]::Error.WriteLine("FAILED $($day.View): $($day.Error)") }
    exit 1
}
exit 0
