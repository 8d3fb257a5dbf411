# A DBA's session in pwsh against a sandbox, for the commands Lifecycle.Tests.ps1 does not drive: connections,
# install, templates, daily views, union views, schedules, health and configuration; then what the DBA sees of them
# (Format-Table and Out-String widths) and what the tab key offers (TabExpansion2). The last Describe checks that
# every exported cmdlet is typed in some file of this suite.
BeforeDiscovery {
    . $PSScriptRoot/TestHelpers.ps1
    $cmdlets = Get-ExportedCmdletName
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module $ModuleManifest -Force
    $sandbox = Start-WhSandbox -TenantCount 2 -Days 4
    $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Null
    $from = [datetime]::Today.AddDays(-3)
    Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From $from | Out-Null
    $seen = [System.Collections.Generic.Dictionary[string, object]]::new()   # one object of each output type, for the format checks
    function Keep { process { if ($_ -and -not $seen.ContainsKey($_.GetType().FullName)) { $seen[$_.GetType().FullName] = $_ }; $_ } }
}

AfterAll {
    if ($sandbox) { Stop-WhSandbox -Sandbox $sandbox }
}

Describe 'Scripts run as pwsh -File' {
    It 'writes -Debug, verbose and warning text without prompting (Update-WhMv and Test-WhMv -Debug)' {
        # PowerShell makes a compiled cmdlet's verbose and warning messages Inquire under -Debug; in pwsh -File that prompt
        # died with a NullReferenceException (issue 26). The script is a DBA's file run as a scheduled job runs it.
        $script = Join-Path ([System.IO.Path]::GetTempPath()) "debug-$PID.ps1"
        $tenant = $sandbox.Tenants[0].Name
        Set-Content -Path $script -Value @"
Import-Module '$ModuleManifest'
Connect-WhWarehouse -ConnectionString `$env:PHOOD_WH | Out-Null
Update-WhMv -Tenant $tenant -Template foodlogstats -Date ([datetime]::Today.AddDays(-1)) -Force -Confirm:`$false -Debug | Out-Null
'updated'
Test-WhMv -Tenant $tenant -Template foodlogstats -From ([datetime]::Today.AddDays(-2)) -Debug | Out-Null
'tested'
"@
        try {
            $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
            if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add([System.IO.Path]::Combine($PSHOME, 'pwsh.dll')) }
            foreach ($argument in '-NoLogo', '-NoProfile', '-File', $script) { $start.ArgumentList.Add($argument) }
            $start.RedirectStandardOutput = $true; $start.RedirectStandardError = $true; $start.RedirectStandardInput = $true
            $start.Environment['NO_COLOR'] = '1'; $start.Environment['PHOOD_WH'] = $sandbox.GetConnectionString()
            $process = [System.Diagnostics.Process]::Start($start)
            $process.StandardInput.Close()
            $errors = $process.StandardError.ReadToEndAsync()
            $output = $process.StandardOutput.ReadToEnd()
            $process.WaitForExit()
        } finally {
            Remove-Item $script
        }
        $errors.Result | Should -Not -Match 'NullReferenceException|Object reference'
        $output | Should -Not -Match 'Continue with this operation'
        $output | Should -Match 'updated'
        $output | Should -Match 'tested'
        $output | Should -Match "VERBOSE: $tenant/foodlogstats: 3 of 3 day\(s\) match"
        $process.ExitCode | Should -Be 0 -Because $errors.Result
    }
}

Describe 'Connections and install' {
    It 'connects a second, non-default connection and closes it' {
        $second = Connect-WhWarehouse -ConnectionString $sandbox.GetConnectionString() -NoDefault | Keep
        $second.User | Should -Be 'whadmin'
        (Get-WhTenant -Connection $second).Count | Should -Be 2
        Disconnect-WhWarehouse -Connection $second
        { Get-WhTenant -Connection $second -ErrorAction Stop } | Should -Throw
        (Get-WhTenant).Count | Should -Be 2     # the session default is untouched
    }

    It 'says the installed warehouse is up to date, and -WhatIf changes nothing' {
        Install-WhWarehouse -WhatIf
        $result = Install-WhWarehouse | Keep
        $result.Action | Should -Be 'UpToDate'
        Get-WhWarehouse | Keep | ForEach-Object TenantCount | Should -Be 2
    }
}

Describe 'Templates' {
    It 'adds a template from parameters, tests it against a tenant and removes it' {
        $query = "SELECT f.station::text, sum(f.weight)::numeric FROM phood_foodlogsum f WHERE f.logged_time >= '{TARGET_DATE}'::date AND f.logged_time < '{TARGET_DATE}'::date + 1 GROUP BY 1"
        Set-WhTemplate -Name waste_by_station -Description 'Daily waste per station' -Query $query -Columns 'station text', 'weight numeric' |
            Keep | ForEach-Object Name | Should -Be 'waste_by_station'
        (Get-WhTemplate | Keep).Name | Should -Contain 'waste_by_station'
        $test = Test-WhTemplate -Name waste_by_station -Tenant north_campus | Keep
        $test.Success | Should -BeTrue -Because ($test.Problems -join '; ')
        Remove-WhTemplate -Name waste_by_station -Confirm:$false
        (Get-WhTemplate).Name | Should -Not -Contain 'waste_by_station'
    }

    It 'reports a template whose columns do not match the source' {
        $test = Test-WhTemplate -Name bad_types -Query "SELECT 1::int FROM phood_foodlogsum WHERE logged_time >= '{TARGET_DATE}'::date LIMIT 1" -Columns 'n text' -Tenant north_campus
        $test.Success | Should -BeFalse
        $test.Problems | Should -Not -BeNullOrEmpty
    }
}

Describe 'Daily views and union views' {
    It 'lists each tenant''s days with rows' {
        $days = @(Get-WhMv -Tenant north_campus -Template foodlogstats | Keep)
        $days.Count | Should -Be 4
        $days | ForEach-Object { $_.Rows | Should -BeGreaterThan 0 }
    }

    It 'reports every tenant fresh' {
        $freshness = @(Get-WhMvFreshness -Days 4 | Keep)
        $freshness.Tenant | Sort-Object | Should -Be @('city_hospital', 'north_campus')
        $freshness | ForEach-Object { $_.MissingDates.Count | Should -Be 0 }
    }

    It 'removes old days with -WhatIf first, then for real' {
        $before = $from.AddDays(1)
        Remove-WhMv -Tenant city_hospital -Template foodlogstats -Before $before -WhatIf
        @(Get-WhMv -Tenant city_hospital -Template foodlogstats).Count | Should -Be 4
        Remove-WhMv -Tenant city_hospital -Template foodlogstats -Before $before -Confirm:$false
        @(Get-WhMv -Tenant city_hospital -Template foodlogstats).Count | Should -Be 3
    }

    It 'rebuilds a tenant view and the public view' {
        (Update-WhUnionView -Tenant city_hospital -Template foodlogstats | Keep).DailyViewCount | Should -Be 3
        (Update-WhUnionView -Public -Template foodlogstats).View | Should -Be 'public.foodlogstats'
    }

    It 'checks every day against its source, finds a missing day and repairs only that one' {
        $checks = @(Test-WhMv -Tenant north_campus -Template foodlogstats -From $from | Keep)
        $checks.Count | Should -Be 4
        $checks.Status | Sort-Object -Unique | Should -Be 'Match'

        $gone = $from.AddDays(1)
        Remove-WhMv -Tenant north_campus -Template foodlogstats -Date $gone -Confirm:$false
        $missing = @(Get-WhTenant north_campus | Test-WhMv -Template foodlogstats -From $from | Where-Object Status -ne 'Match')
        $missing.Count | Should -Be 1
        $missing[0].Status | Should -Be 'Missing'
        $missing[0].Date.Date | Should -Be $gone.Date

        $missing | Repair-WhMv -WhatIf
        @(Get-WhMv -Tenant north_campus -Template foodlogstats).Count | Should -Be 3
        $repaired = @($missing | Repair-WhMv -Confirm:$false)
        $repaired.Count | Should -Be 1
        $repaired[0].Action | Should -BeIn @('Created', 'Recreated')
        (Test-WhMv -Tenant north_campus -Template foodlogstats -From $from).Status | Sort-Object -Unique | Should -Be 'Match'
    }
}

Describe 'Schedules' {
    BeforeAll {
        if (-not $sandbox.PgCron) { throw 'pg_cron is not installed: apt-get install postgresql-15-cron (./build.ps1 Test installs it)' }
    }

    It 'registers, pauses, resumes and unregisters a tenant''s job' {
        $job = Register-WhCronJob -Tenant north_campus -Template foodlogstats -Schedule '0 2 * * *' | Keep
        $job.Active | Should -BeTrue
        (Disable-WhCronJob -Name $job.Name).Active | Should -BeFalse
        (Get-WhCronJob -Tenant north_campus).Active | Should -BeFalse
        (Get-WhCronJob -Tenant north_campus | Enable-WhCronJob).Active | Should -BeTrue
        @(Get-WhCronJobRun -Name $job.Name).Count | Should -Be 0
        Unregister-WhCronJob -Name $job.Name -Confirm:$false
        Get-WhCronJob -Tenant north_campus | Should -BeNullOrEmpty
    }

    It 'clears old run history, -WhatIf first' {
        Clear-WhCronJobRun -OlderThan 30.00:00:00 -WhatIf
        $cleared = Clear-WhCronJobRun -OlderThan 30.00:00:00 -Confirm:$false | Keep
        $cleared.Deleted | Should -Be 0
        $cleared.User | Should -Be 'whadmin'
    }
}

Describe 'Health and configuration' {
    It 'runs every health check, none failing' {
        $checks = @(Get-WhHealth | Keep)
        $checks.Count | Should -BeGreaterThan 3
        $checks | Where-Object Status -eq 'Failed' | Should -BeNullOrEmpty
    }

    It 'finds every view the tenants need, and no time in the future (Views, FutureTimes)' {
        $checks = @(Get-WhHealth -Check Views, FutureTimes)
        $checks.Check | Sort-Object -Unique | Should -Be @('FutureTimes', 'Views')
        $checks | Where-Object Status -ne 'Ok' | Should -BeNullOrEmpty
    }

    It 'refuses a source change the source refuses, and -SkipConnectionTest stores it' {
        $tenant = $sandbox.Tenants[1].Name
        $wrong = [pscredential]::new($sandbox.SourceUser, (ConvertTo-SecureString 'not the password' -AsPlainText -Force))
        { Set-WhTenant -Name $tenant -SourceCredential $wrong -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'SourceLoginRefused*'
        (Test-WhTenantConnection -Name $tenant).Success | Should -BeTrue
        Set-WhTenant -Name $tenant -SourceCredential $wrong -SkipConnectionTest -Confirm:$false | Out-Null
        (Test-WhTenantConnection -Name $tenant).Success | Should -BeFalse
        Set-WhTenant -Name $tenant -SourceCredential $sandbox.SourceCredential -Confirm:$false | Out-Null
        (Test-WhTenantConnection -Name $tenant).Success | Should -BeTrue
    }

    It 'gives a tenant a freshness SLA of its own, and $null puts it back on the warehouse''s' {
        $tenant = $sandbox.Tenants[0].Name
        (Set-WhTenant -Name $tenant -FreshnessSla 04:30:00 -Confirm:$false).FreshnessSla | Should -Be ([timespan]'04:30:00')
        $fresh = Get-WhMvFreshness -Tenant $tenant -Days 4
        $fresh.FreshnessSla | Should -Be ([timespan]'04:30:00')
        $fresh.Status | Should -Not -Be 'Late'
        $fresh.LateBy | Should -Be ([timespan]::Zero)
        $back = Set-WhTenant -Name $tenant -FreshnessSla $null -Confirm:$false
        $back.FreshnessSla | Should -BeNullOrEmpty
        $back.EffectiveFreshnessSla | Should -Be ([timespan]'02:00:00')
    }

    It 'marks a template default, refuses to overwrite an export without -Force, and asks for a day instead of prompting' {
        Set-WhTemplate -Name foodlogstats -Default:$false -Confirm:$false | Out-Null
        (Get-WhTemplate foodlogstats).Default | Should -BeFalse
        Set-WhTemplate -Name foodlogstats -Default -Confirm:$false | Out-Null
        (Get-WhTemplate foodlogstats).Default | Should -BeTrue
        $file = Join-Path ([System.IO.Path]::GetTempPath()) "phoodwh-exists-$PID.json"
        try {
            Set-Content -Path $file -Value 'kept'
            { Export-WhConfiguration -Path $file -ErrorAction Stop } | Should -Throw -ErrorId 'ConfigurationFileExists*'
            Get-Content -Raw $file | Should -Match '^kept'
            Export-WhConfiguration -Path $file -Force | Out-Null
            Get-Content -Raw $file | Should -Match 'foodlogstats'
        } finally {
            Remove-Item $file -ErrorAction Ignore
        }
        { Get-WhTenant north_campus | Remove-WhMv -Template foodlogstats -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'DayRequired*'
    }

    It 'exports the configuration without a password and imports it back as unchanged' {
        $file = Join-Path ([System.IO.Path]::GetTempPath()) "phoodwh-config-$PID.json"
        try {
            Export-WhConfiguration -Path $file
            $json = Get-Content -Raw $file
            $json | Should -Match 'north_campus'
            $json | Should -Not -Match ([regex]::Escape($sandbox.SourceCredential.GetNetworkCredential().Password))
            $results = @(Import-WhConfiguration -Path $file -SourceCredential $sandbox.SourceCredential | Keep)
            ($results | Where-Object Kind -eq 'Tenant').Name | Sort-Object | Should -Be @('city_hospital', 'north_campus')
            $results | Where-Object Action -in 'Failed', 'Created' | Should -BeNullOrEmpty
        } finally {
            Remove-Item $file -ErrorAction Ignore
        }
    }
}

Describe 'What the DBA sees: default table views' {
    BeforeAll {
        Get-WhTenant | Keep | Out-Null
        Test-WhTenantConnection | Keep | Out-Null
        Update-WhMv -Tenant north_campus -Template foodlogstats | Keep | Out-Null
        Get-WhMv -Tenant north_campus -Template foodlogstats | Keep | Out-Null
        $sandbox | Keep | Out-Null
        $sandbox.Tenants[0] | Keep | Out-Null
        $types = @($seen.Keys)
    }

    It 'has seen the output types it checks' {
        $types.Count | Should -BeGreaterOrEqual 15
    }

    It 'shows every output type as a table with all its view''s columns in 80 columns (issue 29, item 8)' {
        foreach ($type in $types) {
            $view = (Get-FormatData -TypeName $type).FormatViewDefinition | Where-Object { $_.Control -is [System.Management.Automation.TableControl] }
            $view | Should -Not -BeNullOrEmpty -Because "$type needs a default table view"
            $labels = for ($i = 0; $i -lt $view.Control.Headers.Count; $i++) {
                if ($view.Control.Headers[$i].Label) { $view.Control.Headers[$i].Label } else { $view.Control.Rows[0].Columns[$i].DisplayEntry.Value }
            }
            $narrow = @($seen[$type] | Format-Table | Out-String -Width 80) -split "`r?`n"
            $narrow | Where-Object { $_.Length -gt 80 } | Should -BeNullOrEmpty -Because "$type in 80 columns"
            # Every column is there at 80: PowerShell drops the columns that do not fit, from the right.
            $header = ($narrow | Where-Object { $_.Trim() } | Select-Object -First 1)
            foreach ($label in $labels) { $header | Should -Match ([regex]::Escape($label)) -Because "$type shows $label at 80 columns" }
        }
    }

    It 'fills SizeMB for a daily materialized view (its format entry held an expression where a property name belongs)' {
        $mv = Get-WhMv -Tenant north_campus -Template foodlogstats | Where-Object { -not $_.Compacted } | Select-Object -First 1
        $line = @($mv | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_ -match $mv.Date.ToString('yyyy-MM-dd') }
        $line | Should -Match ([regex]::Escape([math]::Round($mv.SizeBytes / 1MB, 2).ToString()))
    }

    It 'writes statuses as names in JSON (issue 29, item 10)' {
        (Get-WhMvFreshness | Select-Object -First 1 | ConvertTo-Json | ConvertFrom-Json).Status | Should -BeIn ([enum]::GetNames([PhoodWarehouse.Core.DailyViews.FreshnessStatus]))
        (Get-WhHealth -Check RunLog | ConvertTo-Json | ConvertFrom-Json).Status | Should -Be 'Ok'
        (Update-WhMv -Tenant north_campus -Template foodlogstats | ConvertTo-Json | ConvertFrom-Json).Action | Should -Be 'Refreshed'
    }

    It 'writes lists as their items in CSV and as lists in JSON (issue 29, item 10)' {
        # Export-Csv writes each property's string: a list read "System.String[]" before.
        $tenants = @(Get-WhTenant | ConvertTo-Csv | ConvertFrom-Csv)
        $tenants[0].Templates | Should -Be 'foodlogstats'
        (Get-WhTemplate foodlogstats | ConvertTo-Csv | ConvertFrom-Csv).Columns | Should -Match '^id bigint, logged_time timestamp'
        (Get-WhTenant | Select-Object -First 1 | ConvertTo-Json | ConvertFrom-Json).Templates | Should -Be @('foodlogstats')
        $gappy = Get-WhMvFreshness | Where-Object { $_.MissingDates.Count -gt 0 } | Select-Object -First 1
        if ($gappy) { ($gappy | ConvertTo-Csv | ConvertFrom-Csv).MissingDates | Should -Match '^\d{4}-\d{2}-\d{2}(, \d{4}-\d{2}-\d{2})*$' }
    }

    It 'shows no password in any table, list or string' {
        $secret = $sandbox.SourceCredential.GetNetworkCredential().Password
        foreach ($object in $seen.Values) {
            ($object | Format-Table | Out-String -Width 250) | Should -Not -Match ([regex]::Escape($secret))
            ($object | Format-List * | Out-String -Width 250) | Should -Not -Match ([regex]::Escape($secret))
            "$object" | Should -Not -Match ([regex]::Escape($secret))
        }
    }
}

Describe 'What the tab key offers: TabExpansion2' {
    BeforeAll {
        function Complete([string] $line) { (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches }
    }

    It 'completes tenant names from the warehouse, by prefix and by wildcard' {
        (Complete 'Get-WhTenant -Name nor').CompletionText | Should -Be @('north_campus')
        (Complete 'Remove-WhTenant CITY*').CompletionText | Should -Be @('city_hospital')
        (Complete 'Get-WhTenant | Invoke-WhMvBackfill -Tenant ci').CompletionText | Should -Be @('city_hospital')
    }

    It 'completes template names' {
        (Complete 'Update-WhMv north_campus -Template food').CompletionText | Should -Be @('foodlogstats')
    }

    It 'completes cron job names, quoted when they need it' {
        Register-WhCronJob -Tenant city_hospital -Template foodlogstats -Schedule '0 3 * * *' -Name 'city nightly' | Out-Null
        try {
            $match = Complete 'Get-WhCronJob -Name city'
            $match.CompletionText | Should -Be @("'city nightly'")
            $match.ListItemText | Should -Be @('city nightly')
        } finally {
            Unregister-WhCronJob -Name 'city nightly' -Confirm:$false
        }
    }

    It 'completes parameter names of the module''s cmdlets' {
        (Complete 'Invoke-WhMvBackfill -Thr').CompletionText | Should -Be @('-ThrottleLimit')
    }
}

Describe 'Every exported cmdlet is typed in this suite' {
    BeforeAll {
        $typed = foreach ($file in Get-ChildItem $PSScriptRoot -Filter *.Tests.ps1) {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$null, [ref]$null)
            $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true) | ForEach-Object { $_.GetCommandName() }
        }
        $typed = @($typed | Where-Object { $_ } | Sort-Object -Unique)
    }

    It '<_> is run by a test in tests/Pester' -ForEach $cmdlets {
        $typed | Should -Contain $_ -Because "a DBA types $($_), so drive it in a tests/Pester/*.Tests.ps1 file"
    }
}

Describe 'What is typed while the sandbox starts' {
    It 'stays for the shell: no child of Start-WhSandbox reads the terminal (issue 29, item 10)' {
        # A pwsh whose standard input already holds a typed line: Start-WhSandbox's programs (runuser, initdb, pg_ctl,
        # the server) get their own closed input, so the line is still there for the shell afterwards.
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add([System.IO.Path]::Combine($PSHOME, 'pwsh.dll')) }
        $script = "Import-Module '$ModuleManifest'; `$s = Start-WhSandbox -TenantCount 1 -Days 1; `$line = [Console]::In.ReadLine(); Stop-WhSandbox -Sandbox `$s; 'read: ' + `$line"
        foreach ($argument in '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $script) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardInput = $true
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.UseShellExecute = $false
        $start.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($start)
        $process.StandardInput.WriteLine('typed while it ran')
        $process.StandardInput.Flush()
        $errors = $process.StandardError.ReadToEndAsync()
        $output = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()
        $process.StandardInput.Dispose()
        $process.ExitCode | Should -Be 0 -Because $errors.Result
        $output | Should -Match 'read: typed while it ran'
    }
}
