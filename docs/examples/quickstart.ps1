# The PhoodWarehouse quickstart: a whole warehouse on this machine, from nothing to a cross-tenant report.
#   From bash (no pwsh needed): ./build.sh Demo
#   pwsh 7.4+:                  ./build.ps1 Demo
# Imports the built module from out/ unless one is already imported (Import-Module PhoodWarehouse after Install-PSResource).
$ErrorActionPreference = 'Stop'
if (-not (Get-Module PhoodWarehouse)) {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', 'out', 'PhoodWarehouse', 'PhoodWarehouse.psd1'))
}

function Step([string] $Title) { "`n== $Title" | Out-Default }

Step '1. Start a sandbox: a throwaway PostgreSQL with the warehouse installed and 3 tenant source databases'
$sandbox = Start-WhSandbox -TenantCount 3 -Days 30
try {
    $sandbox | Out-Default
    "pg_cron: $(if ($sandbox.PgCron) { 'preloaded' } else { 'not installed (schedules skipped)' })" | Out-Default

    Step '2. The warehouse (installed by the sandbox as the superuser; this session is connected as whadmin)'
    Get-WhWarehouse | Out-Default

    Step '3. Add the tenants from a list (the sandbox lists its sources; a CSV of tenants pipes in the same way)'
    $sandbox.Tenants | Out-Default
    $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Default

    Step '4. Backfill the last 30 days for every tenant (days load in parallel, with progress)'
    $from = [datetime]::Today.AddDays(-29)
    $days = @(Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From $from)
    $failed = @($days | Where-Object Action -eq 'Failed')
    "Loaded $($days.Count) daily views ($($failed.Count) failed)." | Out-Default

    Step '5. Freshness: what each tenant holds'
    Get-WhMvFreshness | Out-Default
    Get-WhTenant | Out-Default

    Step '6. A cross-tenant query as the BI login phood_ro (read-only; through public.foodlogstats)'
    $bi = [Npgsql.NpgsqlConnection]::new($sandbox.GetPhoodRoConnectionString())
    $bi.Open()
    try {
        $query = $bi.CreateCommand()
        $query.CommandText = @'
SELECT client, count(DISTINCT logged_time::date) AS days, count(*) AS weighings, round(sum(weight), 1) AS waste_kg
FROM public.foodlogstats
WHERE logged_time >= current_date - 29
GROUP BY client ORDER BY client
'@
        $reader = $query.ExecuteReader()
        $report = while ($reader.Read()) {
            [pscustomobject]@{ Client = $reader.GetString(0); Days = $reader.GetInt64(1); Weighings = $reader.GetInt64(2); WasteKg = $reader.GetDecimal(3) }
        }
        $reader.Dispose()
    } finally {
        $bi.Dispose()
    }
    $report | Out-Default

    Step '7. Keep today fresh with pg_cron'
    if ($sandbox.PgCron) {
        Get-WhTenant | Register-WhCronJob -Template foodlogstats -Schedule '*/15 * * * *' | Out-Default
    } else {
        'pg_cron is not installed on this machine: schedules skipped (apt-get install postgresql-15-cron).' | Out-Default
    }

    Step '8. Remove a tenant and all its data (-Confirm:$false: this is a script)'
    $gone = $sandbox.Tenants[-1].Name
    Remove-WhTenant -Name $gone -Confirm:$false
    "Removed $gone; remaining tenants:" | Out-Default
    Get-WhTenant | Out-Default
}
finally {
    Step '9. Stop the sandbox and delete its folder'
    $sandbox | Stop-WhSandbox
    "Stopped; $($sandbox.DataFolder) deleted: $(-not [System.IO.Directory]::Exists($sandbox.DataFolder))" | Out-Default
}
'Quickstart finished.' | Out-Default
