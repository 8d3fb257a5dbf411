# The two cmdlet bases as a DBA meets them in pwsh: Connect-WhWarehouse has no -Connection (nor in the syntax Get-Help
# prints), every command that works on a warehouse has one, and Core's debug messages reach the debug stream when
# $DebugPreference asks for them, and only then. No server: a closed port is enough for Connect-WhWarehouse to log.
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module $ModuleManifest -Force
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $closedPort = $listener.LocalEndpoint.Port
    $listener.Stop()
    $credential = [pscredential]::new('whadmin', (ConvertTo-SecureString 'not-a-password' -AsPlainText -Force))
    # Connect-WhWarehouse to nowhere: returns the debug messages (stream 5) and the error id.
    function Invoke-ClosedConnect {
        $records = & { try { Connect-WhWarehouse -Server 127.0.0.1 -Port $closedPort -Credential $credential } catch { $_ } } 5>&1
        [pscustomobject]@{
            Debug = @($records | Where-Object { $_ -is [System.Management.Automation.DebugRecord] } | ForEach-Object Message)
            Error = @($records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object FullyQualifiedErrorId)
        }
    }
}

Describe 'Which cmdlets take -Connection' {
    It 'Connect-WhWarehouse has none, and Get-Help shows none in its syntax' {
        (Get-Command Connect-WhWarehouse).Parameters.Keys | Should -Not -Contain 'Connection'
        $syntax = (Get-Help Connect-WhWarehouse).syntax | Out-String -Width 300
        $syntax | Should -Match '-ConnectionString'
        $syntax | Should -Not -Match '-Connection\s'
        @((Get-Help Connect-WhWarehouse -Full).parameters.parameter.name) | Should -Not -Contain 'Connection'
    }

    It 'every other cmdlet but Start-WhSandbox and Stop-WhSandbox has one' {
        $without = Get-Command -Module PhoodWarehouse | Where-Object { -not $_.Parameters.ContainsKey('Connection') } |
            ForEach-Object Name | Sort-Object
        $without | Should -Be @('Connect-WhWarehouse', 'Start-WhSandbox', 'Stop-WhSandbox')
    }
}

Describe "Core's debug messages follow `$DebugPreference" {
    AfterEach { $DebugPreference = 'SilentlyContinue' }

    It 'writes them with Continue' {
        $DebugPreference = 'Continue'
        $result = Invoke-ClosedConnect
        $result.Error | Should -Match '^ServerUnreachable,'
        $result.Debug | Should -Contain "Connecting to phood_warehouse on 127.0.0.1:$closedPort as whadmin"
    }

    It 'writes none with SilentlyContinue' {
        $DebugPreference = 'SilentlyContinue'
        $result = Invoke-ClosedConnect
        $result.Error | Should -Match '^ServerUnreachable,'
        $result.Debug | Should -BeNullOrEmpty
    }
}
