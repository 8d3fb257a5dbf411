#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The module's lifecycle against a sandbox, as a DBA drives it. Run by ./build.ps1 Test (./build.sh Test from bash),
# in real pwsh with the Pester pinned in Directory.Packages.props.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module $ModuleManifest -Force
    $script:sandbox = Start-WhSandbox -TenantCount 2 -Days 5
    # -WhatIf as a DBA's console shows it: a new pwsh connected to the sandbox as whadmin, its host output returned.
    function Invoke-WhatIf([string] $Command) {
        $connect = "Import-Module '$ModuleManifest'; Connect-WhWarehouse -ConnectionString `$env:PHOOD_CS | Out-Null; " +
            "`$credential = [pscredential]::new(`$env:PHOOD_SOURCE_USER, (ConvertTo-SecureString `$env:PHOOD_SOURCE_PASSWORD -AsPlainText -Force)); "
        $run = Invoke-Pwsh -Command ($connect + $Command + '; exit [int](-not $?)') -Environment @{
            PHOOD_CS = $sandbox.GetConnectionString(); PHOOD_SOURCE_USER = $sandbox.SourceUser
            PHOOD_SOURCE_PASSWORD = $sandbox.SourceCredential.GetNetworkCredential().Password
        }
        $run.ExitCode | Should -Be 0 -Because "$($run.Output -join "`n") $($run.Errors)"
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output | Where-Object { $_ -like 'What if: *' })
    }
}

AfterAll {
    if ($script:sandbox) { Stop-WhSandbox -Sandbox $script:sandbox }
}

Describe 'Sandbox' {
    It 'is running, installed and connected as whadmin' {
        $sandbox.IsRunning | Should -BeTrue
        $warehouse = Get-WhWarehouse
        $warehouse.User | Should -Be 'whadmin'
        $warehouse.SchemaVersion | Should -Not -BeNullOrEmpty
        $warehouse.TenantCount | Should -Be 0
    }

    It 'keeps passwords out of its string form' {
        "$sandbox" | Should -Not -Match 'Password'
        $sandbox.SourceCredential | Should -BeOfType [pscredential]
    }
}

Describe 'Tenants' {
    It 'adds the sandbox tenants from a list' {
        $tenants = $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential
        $tenants.Name | Should -Be @('north_campus', 'city_hospital')
    }

    It 'reaches every source through dblink' {
        Test-WhTenantConnection | ForEach-Object { $_.Success | Should -BeTrue }
    }

    It 'shows -WhatIf for a new tenant, step by step, and changes nothing' {
        $t = $sandbox.Tenants[0]
        $before = Get-SandboxSnapshot $sandbox
        $endpoint = "$($t.SourceServer):$($t.SourcePort)/$($t.SourceDatabase)"
        $said = Invoke-WhatIf "New-WhTenant -Name whatif_tenant -SourceServer $($t.SourceServer) -SourcePort $($t.SourcePort) -SourceDatabase $($t.SourceDatabase) -SourceCredential `$credential -WhatIf"
        $said | Should -Be @(
            "What if: Performing the operation ""New tenant: test the source $endpoint through dblink; " +
            'create schema whatif_tenant (whadmin owns it; phood_ro reads it, including views created later); ' +
            "add connection whatif_tenant → $endpoint as $($sandbox.SourceUser) (dblink server wh_whatif_tenant with a user mapping for whadmin); " +
            'create the tenant and public views of the default templates" on target "whatif_tenant".')
        Get-SandboxSnapshot $sandbox | Should -Be $before
        Get-WhTenant -Name whatif_tenant | Should -BeNullOrEmpty
    }
}

Describe 'Daily views' {
    It 'backfills five days for every tenant' {
        $days = Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-4))
        $days.Count | Should -Be 10
        $days | Where-Object Action -eq 'Failed' | Should -BeNullOrEmpty
    }

    It 'does only what is missing when run again' {
        $again = Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-4))
        ($again | Where-Object Action -eq 'Created') | Should -BeNullOrEmpty
    }

    It 'refreshes and re-creates one day' {
        (Update-WhMv -Tenant city_hospital -Template foodlogstats).Action | Should -Be 'Refreshed'
        (Update-WhMv -Tenant city_hospital -Template foodlogstats -Date ([datetime]::Today.AddDays(-3)) -Force).Action | Should -Be 'Recreated'
    }

    It 'lists five days per tenant' {
        Get-WhTenant | ForEach-Object { $_.DailyViewCount | Should -Be 5 }
    }

    It 'rotates a source password: the old one is refused, the new one works, and every view is kept (same oid)' {
        $views = "SELECT c.oid || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'north_campus' AND c.relkind IN ('m', 'v') ORDER BY c.relname"
        $before = Invoke-SandboxSql $sandbox $views
        $before.Count | Should -Be 6
        $password = "rotated 'pw' \;=$(Get-Random)"
        $null = Invoke-SandboxSql $sandbox "ALTER ROLE $($sandbox.SourceUser) PASSWORD '$($password.Replace("'", "''"))'"
        (Test-WhTenantConnection -Name north_campus).Success | Should -BeFalse

        $credential = [pscredential]::new($sandbox.SourceUser, (ConvertTo-SecureString $password -AsPlainText -Force))
        (Set-WhTenant -Name north_campus -SourceCredential $credential -Confirm:$false).Name | Should -Be 'north_campus'
        (Test-WhTenantConnection -Name north_campus).Success | Should -BeTrue
        (Update-WhMv -Tenant north_campus -Template foodlogstats).Action | Should -Be 'Refreshed'
        Invoke-SandboxSql $sandbox $views | Should -Be $before
        # city_hospital still has the old password, and is refused.
        (Test-WhTenantConnection -Name city_hospital).Success | Should -BeFalse
    }
}

Describe 'Removal and stop' {
    It 'shows each step of a removal with -WhatIf and changes nothing' {
        $before = Get-SandboxSnapshot $sandbox
        Invoke-WhatIf 'Remove-WhTenant -Name city_hospital -WhatIf' | Should -Be @(
            'What if: Performing the operation "rebuild public.foodlogstats without city_hospital" on target "city_hospital".'
            'What if: Performing the operation "drop schema city_hospital and its 5 daily views" on target "city_hospital".'
            'What if: Performing the operation "drop connection city_hospital (dblink server and user mapping)" on target "city_hospital".'
            'What if: Performing the operation "unregister tenant city_hospital" on target "city_hospital".')
        Get-SandboxSnapshot $sandbox | Should -Be $before
    }

    It 'removes a tenant with -Confirm:$false' {
        Remove-WhTenant -Name city_hospital -Confirm:$false
        Get-WhTenant -Name city_hospital | Should -BeNullOrEmpty
        (Get-WhWarehouse).TenantCount | Should -Be 1
    }

    It 'stops the sandbox and deletes its folder' {
        $folder = $sandbox.DataFolder
        Stop-WhSandbox -Sandbox $sandbox
        Test-Path $folder | Should -BeFalse
        { Get-WhTenant -ErrorAction Stop } | Should -Throw '*Not connected*'
        $script:sandbox = $null
    }
}
