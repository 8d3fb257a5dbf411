# Get-Help -Examples for every exported cmdlet, as a DBA reads it in pwsh: at least two examples, each one code that
# parses, that calls the cmdlet it documents, and names only parameters the module's commands have.
BeforeDiscovery {
    . $PSScriptRoot/TestHelpers.ps1
    $cmdlets = Get-ExportedCmdletName
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module $ModuleManifest -Force
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    $parametersOf = @{}
    foreach ($command in Get-Command -Module PhoodWarehouse) {
        $parametersOf[$command.Name] = @($command.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases }) + $common
    }
}

Describe 'Get-Help <_> -Examples' -ForEach $cmdlets {
    BeforeAll {
        $name = $_
        $examples = @((Get-Help -Name $name -Examples).examples.example | Where-Object { $_ })
        $text = Get-Help -Name $name -Examples | Out-String -Width 1000
    }

    It 'shows at least two examples, numbered, with their code' {
        $examples.Count | Should -BeGreaterOrEqual 2
        $text | Should -Match 'Example 1'
        $text | Should -Match 'Example 2'
        foreach ($example in $examples) { $text | Should -Match ([regex]::Escape(($example.code -split "`n")[0].Trim())) }
    }

    It 'has examples that parse and call it with parameters that exist' {
        $calls = 0
        foreach ($example in $examples) {
            $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($example.code, [ref]$null, [ref]$errors)
            $errors | Should -BeNullOrEmpty -Because "example '$($example.title)' of $name must parse"
            foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
                $called = $call.GetCommandName()
                if (-not $called -or -not $parametersOf.ContainsKey($called)) { continue }
                if ($called -eq $name) { $calls++ }
                foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                    $parametersOf[$called] | Should -Contain $parameter.ParameterName -Because "example '$($example.title)' of $name passes -$($parameter.ParameterName) to $called"
                }
            }
        }
        $calls | Should -BeGreaterOrEqual 1 -Because "the examples of $name should show $name"
    }
}
