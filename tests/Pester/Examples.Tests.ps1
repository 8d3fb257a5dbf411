# Every script in docs/examples, run in pwsh as its header says, against a sandbox (its own throwaway cluster).
# A new example needs a case here: the first test fails until it has one.
BeforeDiscovery {
    . $PSScriptRoot/TestHelpers.ps1
    $scripts = @(Get-ChildItem ([System.IO.Path]::Combine($RepositoryRoot, 'docs', 'examples')) -Filter *.ps1 | ForEach-Object Name)
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $examples = [System.IO.Path]::Combine($RepositoryRoot, 'docs', 'examples')
    $cases = 'quickstart.ps1', 'add-tenants-from-csv.ps1', 'rotate-source-password.ps1', 'sandbox-backfill-year.ps1', 'nightly-load.ps1'
}

Describe 'docs/examples' {
    It '<_> has a case in this file' -ForEach $scripts {
        $cases | Should -Contain $_
    }
}

Describe 'quickstart.ps1, in a new pwsh' {
    BeforeAll {
        $run = Invoke-Pwsh -Command "& ./docs/examples/quickstart.ps1; exit `$LASTEXITCODE"
        $text = $run.Output -join "`n"
    }

    It 'exits 0 and finishes' {
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Output[-1..-3] | Should -Contain 'Quickstart finished.'
    }

    It 'loads 30 days for each of the 3 tenants and reports them as phood_ro' {
        $text | Should -Match 'Loaded 90 daily views \(0 failed\)\.'
        $text | Should -Match '(?m)^Client\s+Days\s+Weighings\s+WasteKg'
        @($run.Output | Where-Object { $_ -match '^\S.*\s30\s+\d+\s+[\d.]+$' }).Count | Should -Be 3
    }

    It 'removes the last tenant and deletes the sandbox folder' {
        $text | Should -Match 'Removed harbor_hotel; remaining tenants:'
        $folder = [regex]::Match($text, 'Stopped; (\S+) deleted: True').Groups[1].Value
        $folder | Should -Not -BeNullOrEmpty
        Test-Path $folder | Should -BeFalse
    }

    It 'writes plain text when redirected' {
        $text.Contains([char]27) | Should -BeFalse
    }
}

Describe 'sandbox-backfill-year.ps1, in a new pwsh' {
    It 'loads 2 x 365 days, then a re-run skips all but the days still open (today and yesterday)' {
        $run = Invoke-Pwsh -Command "Import-Module '$ModuleManifest'; & ./docs/examples/sandbox-backfill-year.ps1"
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $text = $run.Output -join "`n"
        $text | Should -Match 'First run: 730 days in [\d.]+ s'
        $skipped = [int][regex]::Match($text, 'Re-run: (\d+) of 730 days skipped in [\d.]+ s').Groups[1].Value
        $skipped | Should -BeGreaterOrEqual 726
    }
}

Describe 'Scripts against a warehouse, each in a new pwsh connected as whadmin' {
    BeforeAll {
        Import-Module $ModuleManifest -Force
        $sandbox = Start-WhSandbox -TenantCount 2 -Days 3
        # What the DBA's terminal has: the module, a connection and the source login (passed to the child only).
        $session = @{ PHOOD_WH = $sandbox.GetConnectionString(); PHOOD_SOURCE_USER = $sandbox.SourceUser; PHOOD_SOURCE_PASSWORD = $sandbox.SourceCredential.GetNetworkCredential().Password }
        $connect = "Import-Module '$ModuleManifest'; Connect-WhWarehouse -ConnectionString `$env:PHOOD_WH | Out-Null; " +
            "`$credential = [pscredential]::new(`$env:PHOOD_SOURCE_USER, (ConvertTo-SecureString `$env:PHOOD_SOURCE_PASSWORD -AsPlainText -Force)); "
    }
    AfterAll {
        if ($sandbox) { Stop-WhSandbox -Sandbox $sandbox }
    }

    It 'add-tenants-from-csv.ps1 shows -WhatIf, then adds the tenants of the file and loads their days' {
        $csv = Join-Path ([System.IO.Path]::GetTempPath()) "tenants-$PID.csv"
        $sandbox.Tenants | ForEach-Object {
            [pscustomobject]@{ Name = $_.Name; ClientName = "Client $($_.Name)"; SourceServer = $_.SourceServer; SourcePort = $_.SourcePort; SourceDatabase = $_.SourceDatabase }
        } | Export-Csv -Path $csv -NoTypeInformation -UseQuotes Never
        try {
            $run = Invoke-Pwsh -Command ($connect + "& ./docs/examples/add-tenants-from-csv.ps1 -Path '$csv' -SourceCredential `$credential -Days 3") -Environment $session
        } finally {
            Remove-Item $csv
        }
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $text = $run.Output -join "`n"
        $text | Should -Match 'What if: .*north_campus'
        $text | Should -Not -Match ([regex]::Escape($session.PHOOD_SOURCE_PASSWORD))
        $tenants = Get-WhTenant | Sort-Object Name
        $tenants.Name | Should -Be @($sandbox.Tenants.Name | Sort-Object)
        $tenants.ClientName | Should -Be @($tenants | ForEach-Object { "Client $($_.Name)" })
        $tenants | ForEach-Object { $_.DailyViewCount | Should -Be 3 }
    }

    It 'nightly-load.ps1 loads every tenant it can, then exits 1 naming the days that failed (issue 29, item 10)' {
        # Two tenants from the CSV test above; the first one's source now refuses the warehouse's login.
        $tenants = @(Get-WhTenant | Sort-Object Name)
        $tenants.Count | Should -BeGreaterOrEqual 2
        $broken = $tenants[0].Name
        # As a scheduler runs it: pwsh -File, the module found on PSModulePath, the warehouse in $env:PHOOD_WH.
        $scheduled = $session + @{ PSModulePath = (Split-Path (Split-Path $ModuleManifest)) + [System.IO.Path]::PathSeparator + $env:PSModulePath }
        $wrong = [pscredential]::new($sandbox.SourceUser, (ConvertTo-SecureString 'not the password' -AsPlainText -Force))
        Set-WhTenant -Name $broken -SourceCredential $wrong -SkipConnectionTest -Confirm:$false | Out-Null
        try {
            $run = Invoke-Pwsh -File ./docs/examples/nightly-load.ps1 -Command '-Days 2' -Environment $scheduled
        } finally {
            Set-WhTenant -Name $broken -SourceCredential $sandbox.SourceCredential -Confirm:$false | Out-Null
        }
        $run.ExitCode | Should -Be 1 -Because 'a day failed'
        $text = $run.Output -join "`n"
        $text | Should -Match "Loaded [1-9]\d* day\(s\) of $($tenants.Count) tenant\(s\); 2 failed\."
        ($run.Errors -join "`n") | Should -Match "FAILED $broken\.foodlogstats_\d{4}_\d{2}_\d{2}: "
        ($run.Errors -join "`n") | Should -Not -Match "FAILED $($tenants[1].Name)\."
        # The healthy tenant was loaded although the broken one came first.
        (Get-WhMv -Tenant $tenants[1].Name -Template foodlogstats | Measure-Object).Count | Should -BeGreaterOrEqual 2

        # Everything well again: exit 0.
        $again = Invoke-Pwsh -File ./docs/examples/nightly-load.ps1 -Command '-Days 2' -Environment $scheduled
        $again.ExitCode | Should -Be 0 -Because ($again.Errors -join "`n")
    }

    It 'rotate-source-password.ps1 makes a tenant reach its source again after the password changed' {
        $tenant = $sandbox.Tenants[0].Name
        $password = "rotated 'pw' \;=$(Get-Random)"
        $admin = [Npgsql.NpgsqlConnection]::new($sandbox.GetSuperuserConnectionString())
        $admin.Open()
        try {
            $alter = $admin.CreateCommand()
            $alter.CommandText = "ALTER ROLE $($sandbox.SourceUser) PASSWORD '$($password.Replace("'", "''"))'"
            $null = $alter.ExecuteNonQuery()
        } finally {
            $admin.Dispose()
        }
        (Test-WhTenantConnection -Name $tenant).Success | Should -BeFalse

        $run = Invoke-Pwsh -Command ($connect + "& ./docs/examples/rotate-source-password.ps1 -Tenant $tenant -SourceCredential `$credential") -Environment (@{} + $session | ForEach-Object { $_.PHOOD_SOURCE_PASSWORD = $password; $_ })
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $text = $run.Output -join "`n"
        $text | Should -Match 'What if: .*source password'
        $text | Should -Match "(?m)^$tenant\s+True\s"
        $text | Should -Match "(?m)^$tenant\s+foodlogstats\s+\S+\s+Refreshed"
        $text | Should -Not -Match ([regex]::Escape($password))
        (Test-WhTenantConnection -Name $tenant).Success | Should -BeTrue
    }
}
