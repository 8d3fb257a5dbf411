#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The module's lifecycle against a sandbox, as a DBA drives it. Run by ./build.ps1 Test (./build.sh Test from bash),
# in real pwsh with the Pester pinned in Directory.Packages.props.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', 'out', 'PhoodWarehouse', 'PhoodWarehouse.psd1')) -Force
    $script:sandbox = Start-WhSandbox -TenantCount 2 -Days 5
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

    It 'shows -WhatIf for a new tenant and changes nothing' {
        $t = $sandbox.Tenants[0]
        New-WhTenant -Name whatif_tenant -SourceServer $t.SourceServer -SourcePort $t.SourcePort -SourceDatabase $t.SourceDatabase -SourceCredential $sandbox.SourceCredential -WhatIf
        Get-WhTenant -Name whatif_tenant | Should -BeNullOrEmpty
    }

    It 'rotates a source password without re-creating views' {
        Set-WhTenant -Name north_campus -SourceCredential $sandbox.SourceCredential | Should -Not -BeNullOrEmpty
        (Test-WhTenantConnection -Name north_campus).Success | Should -BeTrue
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
}

Describe 'Removal and stop' {
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
