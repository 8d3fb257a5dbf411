#!/usr/bin/env pwsh
# Makes docs/images/freshness-report.png, the README's picture of Export-WhFreshnessReport, from a sandbox:
# 6 tenants, 30 days, then a few things going wrong as they do in production. Run from the repository root after
# ./build.ps1:  ./build.sh and then:  dotnet pwsh -NoProfile -File docs/images/freshness-report.ps1
$ErrorActionPreference = 'Stop'
Import-Module ./out/PhoodWarehouse/PhoodWarehouse.psd1 -Force
$sandbox = Start-WhSandbox -TenantCount 6 -Days 30
try {
    $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Null
    $today = (Get-WhTenant)[0].Today
    function Sql([string] $Database, [string] $Text) {
        $builder = [Npgsql.NpgsqlConnectionStringBuilder]::new($sandbox.GetSuperuserConnectionString())
        if ($Database) { $builder.Database = $Database }
        $db = [Npgsql.NpgsqlConnection]::new($builder.ConnectionString)
        $db.Open()
        try { $command = $db.CreateCommand(); $command.CommandText = $Text; $null = $command.ExecuteNonQuery() } finally { $db.Dispose() }
    }
    # Partial: a day loaded at 23:00 of that day and never finished (the sandbox's clock moved back for one session).
    $warehouse = ([Npgsql.NpgsqlConnectionStringBuilder]::new($sandbox.GetSuperuserConnectionString())).Database
    Sql '' "ALTER DATABASE $warehouse SET phood.test_clock = 'on'"
    $partial = $today.AddDays(-11).ToString('yyyy-MM-dd')
    $builder = [Npgsql.NpgsqlConnectionStringBuilder]::new($sandbox.GetConnectionString())
    $db = [Npgsql.NpgsqlConnection]::new($builder.ConnectionString); $db.Open()
    $command = $db.CreateCommand()
    $command.CommandText = "SET phood.now = '$partial 23:00'; SELECT _wh.update_mv_by_template('foodlogstats', 'harbor_hotel', 'harbor_hotel', '$partial')"
    $null = $command.ExecuteNonQuery(); $db.Dispose()

    # stadium joined 12 days ago; everyone else has the whole month.
    Get-WhTenant | Where-Object Name -ne stadium | Invoke-WhMvBackfill -Template foodlogstats -From $today.AddDays(-29) | Out-Null
    Invoke-WhMvBackfill -Tenant stadium -Template foodlogstats -From $today.AddDays(-11) | Out-Null

    # Missing: days removed by hand.
    foreach ($gap in @(@('north_campus', 17), @('north_campus', 16), @('airport', 5))) {
        Remove-WhMv -Tenant $gap[0] -Template foodlogstats -Date $today.AddDays(-$gap[1]) -Confirm:$false
    }
    # Changed: late corrections at the source, found by a check.
    $city = ($sandbox.Tenants | Where-Object Name -eq city_hospital).SourceDatabase
    Sql $city "UPDATE phood_foodlogsum SET weight = weight + 1 WHERE logged_time::date IN ('$($today.AddDays(-8).ToString('yyyy-MM-dd'))', '$($today.AddDays(-20).ToString('yyyy-MM-dd'))') AND id % 7 = 0"
    Test-WhMv -Tenant city_hospital -Template foodlogstats -From $today.AddDays(-29) | Out-Null
    # Failed: airport's source is down while two days are reloaded.
    $airport = $sandbox.Tenants | Where-Object Name -eq airport
    Set-WhTenant airport -SourcePort 1 -SourceCredential $sandbox.SourceCredential -SkipConnectionTest | Out-Null
    foreach ($back in 3, 2) {
        Remove-WhMv -Tenant airport -Template foodlogstats -Date $today.AddDays(-$back) -Confirm:$false
        Update-WhMv -Tenant airport -Template foodlogstats -Date $today.AddDays(-$back) -ErrorAction SilentlyContinue | Out-Null
    }
    Set-WhTenant airport -SourcePort $airport.SourcePort -SourceCredential $sandbox.SourceCredential | Out-Null

    $page = Join-Path ([System.IO.Path]::GetTempPath()) 'freshness.html'
    Get-WhMvFreshness -Days 30 | Export-WhFreshnessReport -Path $page -Force | Out-Null
    $png = Join-Path $PSScriptRoot 'freshness-report.png'
    $userData = Join-Path ([System.IO.Path]::GetTempPath()) "freshness-chromium-$PID"
    & chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "--user-data-dir=$userData" "--screenshot=$png" '--window-size=900,260' ([System.Uri]::new($page)).AbsoluteUri 2>$null | Out-Null
    Remove-Item -Recurse -Force $userData
    Get-Item $png
} finally {
    Stop-WhSandbox -Sandbox $sandbox
}
