@{
    RootModule           = 'PhoodWarehouse.PowerShell.dll'
    ModuleVersion        = '{{ModuleVersion}}'
    GUID                 = '6f0c9a5e-4b1d-4d83-9a57-2e6c0d8b7f31'
    Author               = 'Phood'
    CompanyName          = 'Phood'
    Copyright            = '(c) Phood. All rights reserved.'
    Description          = 'Run the Phood multi-tenant PostgreSQL data warehouse: tenants, daily materialized views pulled through dblink, cross-tenant BI views and pg_cron schedules, as safe, pipeline-friendly commands.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('PhoodWarehouse.format.ps1xml')
    TypesToProcess       = @('PhoodWarehouse.types.ps1xml')
    CmdletsToExport      = @(
        'Connect-WhWarehouse'
        'Disconnect-WhWarehouse'
        'Install-WhWarehouse'
        'Get-WhWarehouse'
        'New-WhTenant'
        'Get-WhTenant'
        'Set-WhTenant'
        'Test-WhTenantConnection'
        'Remove-WhTenant'
        'Invoke-WhMvBackfill'
        'Update-WhMv'
        'Register-WhCronJob'
        'Get-WhCronJob'
        'Get-WhCronJobRun'
        'Enable-WhCronJob'
        'Disable-WhCronJob'
        'Unregister-WhCronJob'
        'Clear-WhCronJobRun'
        'Get-WhMv'
        'Get-WhMvFreshness'
        'Export-WhFreshnessReport'
        'Test-WhMv'
        'Repair-WhMv'
        'Remove-WhMv'
        'Update-WhUnionView'
        'Get-WhTemplate'
        'Set-WhTemplate'
        'Test-WhTemplate'
        'Remove-WhTemplate'
        'Start-WhSandbox'
        'Stop-WhSandbox'
        'Get-WhHealth'
        'Export-WhConfiguration'
        'Import-WhConfiguration'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('PostgreSQL', 'DataWarehouse', 'dblink', 'pg_cron', 'MultiTenant', 'Linux', 'PSEdition_Core')
            ProjectUri = 'https://github.com/phood/phood-warehouse'
        }
    }
}
