#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Build, test and try the PhoodWarehouse module.
.EXAMPLE
    ./build.ps1            # Build: lays out out/PhoodWarehouse
.EXAMPLE
    ./build.ps1 Test       # xUnit suite (starts its own PostgreSQL), then Pester where installed
.EXAMPLE
    ./build.ps1 Demo       # the quickstart against a throwaway sandbox
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet { dotnet @args; if ($LASTEXITCODE) { throw "dotnet $($args -join ' ') failed ($LASTEXITCODE)" } }

switch ($Task) {
    'Build' { Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln }
    'Test' {
        Invoke-Dotnet test -c $Configuration PhoodWarehouse.sln
        if (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0') {
            Invoke-Pester -Path ./tests/Pester -Output Detailed -CI
        } else {
            Write-Warning 'Pester 5 is not installed: skipped tests/Pester (the xUnit suite checks those files statically).'
        }
    }
    'Demo' {
        Invoke-Dotnet build -c $Configuration PhoodWarehouse.sln
        & ./docs/examples/quickstart.ps1
    }
    'Clean' {
        Invoke-Dotnet clean -c $Configuration PhoodWarehouse.sln
        Remove-Item -Recurse -Force ./out -ErrorAction SilentlyContinue
    }
}
