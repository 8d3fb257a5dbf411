#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Build, test, try and package the PhoodWarehouse module: the one entry point.
.DESCRIPTION
    On a fresh Debian/Ubuntu machine it first installs what the task needs and is missing (the PostgreSQL server
    programs, pg_cron, plpgsql_check), saying what and why. From bash, ./build.sh <Task> also restores pwsh itself.
.EXAMPLE
    ./build.ps1            # Build: lays out out/PhoodWarehouse
.EXAMPLE
    ./build.ps1 Test       # xUnit (starts its own PostgreSQL), the package, then Pester in this pwsh; prints the totals
.EXAMPLE
    ./build.ps1 Demo       # the quickstart against a throwaway sandbox
.EXAMPLE
    ./build.ps1 Package    # out/packages/PhoodWarehouse.<version>.nupkg, published with Publish-PSResource
    ./build.ps1 SqlComments  # regenerate sql/wh/99-routine-comments.sql after editing a routine's comment
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Package', 'Clean', 'SqlComments')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$results = Join-Path $PSScriptRoot 'out/test-results'
$packages = Join-Path $PSScriptRoot 'out/packages'

function Invoke-Dotnet { dotnet @args; if ($LASTEXITCODE) { throw "dotnet $($args -join ' ') failed ($LASTEXITCODE)" } }

# Debian packages this repository needs, each with the reason, for the PostgreSQL major version that is installed
# (15 on a machine with none). Installed with apt-get when missing; nothing happens on a machine that has them.
function Install-Prerequisites([switch] $ForTests) {
    $root = '/usr/lib/postgresql'
    if (-not (Test-Path $root) -and (Get-Command initdb -ErrorAction Ignore)) {
        Write-Host "Using the PostgreSQL programs on PATH ($((Get-Command initdb).Source)); pg_cron and plpgsql_check are up to you."
        return
    }
    $major = if (Test-Path $root) { Get-ChildItem $root -Directory | Where-Object { Test-Path "$($_.FullName)/bin/initdb" } |
            ForEach-Object { [int]$_.Name } | Sort-Object | Select-Object -Last 1 }
    if (-not $major) { $major = 15 }
    $lib = "$root/$major/lib"
    $needed = [ordered]@{}
    if (-not (Test-Path "$root/$major/bin/initdb")) { $needed["postgresql-$major"] = 'the PostgreSQL server programs (initdb, pg_ctl): the sandbox and the tests start their own throwaway cluster' }
    if (-not (Test-Path "$lib/pg_cron.so")) { $needed["postgresql-$major-cron"] = 'pg_cron: schedules (Register-WhCronJob); the sandbox and the tests preload it' }
    if ($ForTests -and -not (Test-Path "$lib/plpgsql_check.so")) { $needed["postgresql-$major-plpgsql-check"] = 'plpgsql_check: the linter test checks every _wh routine with it' }
    if ($ForTests -and -not (Test-Path /usr/bin/chromium)) { $needed['chromium'] = 'Chromium: the freshness report test screenshots the page headless and checks its colours' }
    if ($ForTests -and -not (Test-Path /usr/sbin/pgbouncer)) { $needed['pgbouncer'] = 'PgBouncer: the pooler tests run the module through it in session and transaction mode' }
    if ($ForTests -and -not (Get-Command promtool -ErrorAction Ignore)) { $needed['prometheus'] = 'promtool: the monitoring tests check and unit-test the alert rules and example configuration of monitoring/prometheus' }
    if ($ForTests -and -not (Get-Command prometheus-postgres-exporter -ErrorAction Ignore)) { $needed['prometheus-postgres-exporter'] = 'postgres_exporter: the monitoring tests scrape it, run with monitoring/postgres_exporter/queries.yaml as phood_monitor' }
    if (-not $needed.Count) { return }

    foreach ($name in $needed.Keys) { Write-Host "Installing $name for $($needed[$name])." }
    if (-not (Get-Command apt-get -ErrorAction Ignore)) {
        throw "Missing: $($needed.Keys -join ', '). This machine has no apt-get: install the equivalent packages, then run again."
    }
    $sudo = if ((id -u) -ne '0') { if (Get-Command sudo -ErrorAction Ignore) { 'sudo' } else { throw "Missing: $($needed.Keys -join ', '). Run as root, or: apt-get install $($needed.Keys -join ' ')" } }
    $env:DEBIAN_FRONTEND = 'noninteractive'
    $packages = [string[]]$needed.Keys
    foreach ($attempt in 'as is', 'after apt-get update') {
        if ($attempt -ne 'as is') { if ($sudo) { sudo apt-get update -qq } else { apt-get update -qq } }
        if ($sudo) { sudo apt-get install -y -qq @packages } else { apt-get install -y -qq @packages }
        if (-not $LASTEXITCODE) { return }
    }
    throw "apt-get could not install $($needed.Keys -join ', '): see its messages above."
}

function Get-PesterModule {
    $version = ([xml](Get-Content -Raw Directory.Packages.props)).Project.PropertyGroup.PesterVersion | Where-Object { $_ } | Select-Object -First 1
    $cache = (dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
    $manifest = Join-Path $cache.Trim() "pester/$version/tools/Pester.psd1"
    if (-not (Test-Path $manifest)) { throw "Pester $version is not in the NuGet cache ($manifest): run ./build.ps1 Build, which restores it." }
    $manifest
}

function Invoke-Package {
    $manifest = Import-PowerShellDataFile out/PhoodWarehouse/PhoodWarehouse.psd1
    $null = New-Item -ItemType Directory -Force $packages
    $target = Join-Path $packages "PhoodWarehouse.$($manifest.ModuleVersion).nupkg"
    Remove-Item $target -ErrorAction Ignore
    # Publish-PSResource writes only to a registered repository: a folder one, registered for this call only. Its
    # store lives in LocalApplicationData, which .NET reports (and so PSResourceGet uses) only once the folder exists.
    $null = [Environment]::GetFolderPath([Environment+SpecialFolder]::LocalApplicationData, [Environment+SpecialFolderOption]::Create)
    $repository = "PhoodWarehouseBuild-$PID"
    Register-PSResourceRepository -Name $repository -Uri $packages -Trusted
    try {
        Publish-PSResource -Path out/PhoodWarehouse -Repository $repository
    } finally {
        Unregister-PSResourceRepository -Name $repository
    }
    Write-Host "Package: $target"
}

# dotnet test's TRX files and Pester's NUnit XML, counted the same way: the totals line CI prints last.
function Get-TestTotals([string] $Suite) {
    $passed = 0; $failed = 0; $skipped = 0
    if ($Suite -eq 'xUnit') {
        foreach ($trx in Get-ChildItem $results -Filter *.trx -ErrorAction Ignore) {
            $c = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
            $bad = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
            $passed += [int]$c.passed; $failed += $bad; $skipped += [int]$c.total - [int]$c.passed - $bad
        }
    } else {
        $nunit = Join-Path $results 'pester.xml'
        if (Test-Path $nunit) {
            $run = ([xml](Get-Content -Raw $nunit))['test-results']
            $failed = [int]$run.failures + [int]$run.errors
            $skipped = [int]$run.'not-run' + [int]$run.inconclusive + [int]$run.ignored + [int]$run.skipped + [int]$run.invalid
            $passed = [int]$run.total - $failed - $skipped
        }
    }
    [pscustomobject]@{ Suite = $Suite; Passed = $passed; Failed = $failed; Skipped = $skipped }
}

function Invoke-Tests {
    Install-Prerequisites -ForTests
    Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln
    Invoke-Package
    Remove-Item -Recurse -Force $results -ErrorAction Ignore
    $null = New-Item -ItemType Directory -Force $results

    Write-Host "`n== xUnit (tests/PhoodWarehouse.Tests)"
    dotnet test PhoodWarehouse.sln -c $Configuration --no-build --logger "trx" --results-directory $results
    $xunitExit = $LASTEXITCODE

    Write-Host "`n== Pester (tests/Pester), in pwsh $($PSVersionTable.PSVersion)"
    # A child pwsh: the suite imports the module and starts sandboxes; this session stays clean.
    $pester = Get-PesterModule
    $pwsh = if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { 'dotnet', "$PSHOME/pwsh.dll" } else { , [Environment]::ProcessPath }
    & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "
        Import-Module '$pester'
        `$config = New-PesterConfiguration
        `$config.Run.Path = './tests/Pester'
        `$config.Output.Verbosity = 'Detailed'
        if ([Console]::IsOutputRedirected) { `$config.Output.RenderMode = 'Plaintext' }
        `$config.TestResult.Enabled = `$true
        `$config.TestResult.OutputFormat = 'NUnitXml'
        `$config.TestResult.OutputPath = '$results/pester.xml'
        `$config.Run.Exit = `$true
        Invoke-Pester -Configuration `$config"
    $pesterExit = $LASTEXITCODE

    $totals = @((Get-TestTotals xUnit), (Get-TestTotals Pester))
    Write-Host ''
    foreach ($t in $totals) { Write-Host "$($t.Suite): $($t.Passed) passed, $($t.Failed) failed, $($t.Skipped) skipped" }
    $failed = ($totals | Measure-Object Failed -Sum).Sum
    # A build that broke or a test host that crashed reports no failure of its own: count it.
    if (($xunitExit -or $pesterExit) -and -not $failed) { $failed = 1 }
    Write-Host "$(($totals | Measure-Object Passed -Sum).Sum) passed, $failed failed, $(($totals | Measure-Object Skipped -Sum).Sum) skipped"
    if ($failed) { exit 1 }
}

switch ($Task) {
    'Build' { Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln }
    'Test' { Invoke-Tests }
    'Demo' {
        Install-Prerequisites
        Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln
        & ./docs/examples/quickstart.ps1
    }
    'Package' {
        Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln
        Invoke-Package
    }
    'SqlComments' {
        # sql/wh/99-routine-comments.sql from the comment above each routine (RoutineComments; its test checks it).
        Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln
        $env:PHOOD_WRITE_ROUTINE_COMMENTS = '1'
        try { Invoke-Dotnet test tests/PhoodWarehouse.Tests -c $Configuration --no-build --filter 'FullyQualifiedName~RoutineCommentsTests.The_comments_file_is_generated_from_the_comment_above_each_routine' }
        finally { Remove-Item Env:PHOOD_WRITE_ROUTINE_COMMENTS }
    }
    'Clean' {
        Invoke-Dotnet clean -c $Configuration PhoodWarehouse.sln
        Remove-Item -Recurse -Force ./out -ErrorAction SilentlyContinue
    }
}
