# Rotate a tenant's source password: one ALTER USER MAPPING, no daily view re-created (the views hold no secret).
# Usage: ./rotate-source-password.ps1 -Tenant north_campus -SourceCredential $newCredential
param(
    [Parameter(Mandatory)] [string] $Tenant,
    [Parameter(Mandatory)] [pscredential] $SourceCredential
)
$ErrorActionPreference = 'Stop'

Set-WhTenant -Name $Tenant -SourceCredential $SourceCredential -WhatIf
Set-WhTenant -Name $Tenant -SourceCredential $SourceCredential | Out-Default
# The warehouse reaches the source with the new password (a real dblink round trip):
Test-WhTenantConnection -Name $Tenant | Out-Default
# Today's view, refreshed through the same path pg_cron uses:
Update-WhMv -Tenant $Tenant -Template foodlogstats | Out-Default
