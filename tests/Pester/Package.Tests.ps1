# The module as a DBA gets it: the .nupkg that ./build.ps1 Package wrote to out/packages, installed with
# Install-PSResource (and Save-PSResource) from a local folder repository into a clean home, then the quickstart run
# against the INSTALLED module. Each step runs in a new pwsh whose HOME is a temporary folder, so the user's own
# repositories and modules are neither used nor changed.
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    $version = (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
    $package = [System.IO.Path]::Combine($RepositoryRoot, 'out', 'packages', "PhoodWarehouse.$version.nupkg")
    $home_ = Join-Path ([System.IO.Path]::GetTempPath()) "phoodwh-home-$PID"
    # .NET reports no LocalApplicationData (and PSResourceGet then writes its store to the working folder) unless it exists.
    $null = New-Item -ItemType Directory -Force "$home_/.local/share", "$home_/.config", "$home_/.cache"
    # Only pwsh's own modules (PSResourceGet among them) and the clean home's: no out/ folder, no user module path.
    $clean = @{ HOME = $home_; PSModulePath = ''; XDG_DATA_HOME = "$home_/.local/share"; XDG_CONFIG_HOME = "$home_/.config"; XDG_CACHE_HOME = "$home_/.cache" }
}

AfterAll {
    Remove-Item -Recurse -Force $home_ -ErrorAction Ignore
}

Describe 'The PhoodWarehouse package' {
    It 'was written by ./build.ps1 Package with the version of Directory.Build.props' {
        $props = [xml](Get-Content -Raw ([System.IO.Path]::Combine($RepositoryRoot, 'Directory.Build.props')))
        $version | Should -Be $props.Project.PropertyGroup.ModuleVersion
        Test-Path $package | Should -BeTrue -Because 'run ./build.ps1 Package (./build.ps1 Test does) before this suite'
    }

    It 'installs with Install-PSResource from a local repository, for the current user' {
        $run = Invoke-Pwsh -Environment $clean -Command "
            `$ErrorActionPreference = 'Stop'
            Register-PSResourceRepository -Name PhoodLocal -Uri '$(Split-Path $package)' -Trusted
            Install-PSResource -Name PhoodWarehouse -Repository PhoodLocal -Version '$version' -Scope CurrentUser -PassThru |
                ForEach-Object { 'installed {0} {1}' -f `$_.Name, `$_.Version }
            Get-Module -ListAvailable PhoodWarehouse | ForEach-Object { 'available ' + `$_.ModuleBase }"
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Output | Should -Contain "installed PhoodWarehouse $version"
        $run.Output | Where-Object { $_ -like 'available *' } | Should -BeLike "available $home_*"
    }

    It 'saves with Save-PSResource into a folder that holds the whole module' {
        $run = Invoke-Pwsh -Environment $clean -Command "
            `$ErrorActionPreference = 'Stop'
            New-Item -ItemType Directory '$home_/saved' | Out-Null
            Save-PSResource -Name PhoodWarehouse -Repository PhoodLocal -Path '$home_/saved' -TrustRepository
            Get-ChildItem -Recurse -File '$home_/saved/PhoodWarehouse' | ForEach-Object Name"
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        foreach ($file in 'PhoodWarehouse.psd1', 'PhoodWarehouse.PowerShell.dll', 'PhoodWarehouse.Core.dll', 'Npgsql.dll', 'PhoodWarehouse.format.ps1xml', 'PhoodWarehouse.PowerShell.dll-Help.xml') {
            $run.Output | Should -Contain $file
        }
    }

    It 'runs the quickstart, imported by name from the installed module' {
        $run = Invoke-Pwsh -Environment $clean -Command "
            Import-Module PhoodWarehouse -ErrorAction Stop
            'module ' + (Get-Module PhoodWarehouse).ModuleBase
            & ./docs/examples/quickstart.ps1
            exit `$LASTEXITCODE"
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Output[0] | Should -BeLike "module $home_*"
        $text = $run.Output -join "`n"
        $text | Should -Match 'Loaded 90 daily views \(0 failed\)\.'
        $text | Should -Match 'Quickstart finished\.'
    }
}
