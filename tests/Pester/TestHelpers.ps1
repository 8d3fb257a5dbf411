# Shared by every tests/Pester/*.Tests.ps1 (dot-sourced in BeforeAll and BeforeDiscovery): where things are, and how
# to run a script in a fresh pwsh process, as a DBA's terminal or a scheduled job would.
$RepositoryRoot = [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($PSScriptRoot, '..', '..'))
$ModuleManifest = [System.IO.Path]::Combine($RepositoryRoot, 'out', 'PhoodWarehouse', 'PhoodWarehouse.psd1')

function Get-ExportedCmdletName {
    (Import-PowerShellDataFile ([System.IO.Path]::Combine($RepositoryRoot, 'module', 'PhoodWarehouse.psd1'))).CmdletsToExport
}

# Runs -Command in a new pwsh (this one's executable: the dotnet tool runs as dotnet pwsh.dll). Output is plain text
# (NO_COLOR, redirected), 200 columns wide; returns the exit code and the combined output lines.
function Invoke-Pwsh {
    param(
        # What -Command runs; or, with -File, the script's arguments after it (pwsh -File script args...).
        [Parameter(Mandatory)] [string] $Command,
        [string] $File,
        [hashtable] $Environment = @{},
        [string] $WorkingDirectory = $RepositoryRoot
    )
    $start = [System.Diagnostics.ProcessStartInfo]::new()
    if ([System.IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $start.FileName = [Environment]::ProcessPath
        $start.ArgumentList.Add([System.IO.Path]::Combine($PSHOME, 'pwsh.dll'))
    } else {
        $start.FileName = [Environment]::ProcessPath
    }
    $arguments = if ($File) { @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $File) + @($Command -split ' ' | Where-Object { $_ }) }
                 else { @('-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $Command) }
    foreach ($argument in $arguments) { $start.ArgumentList.Add($argument) }
    $start.WorkingDirectory = $WorkingDirectory
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.UseShellExecute = $false
    $start.Environment['NO_COLOR'] = '1'
    $start.Environment['COLUMNS'] = '200'
    foreach ($name in $Environment.Keys) { $start.Environment[$name] = [string]$Environment[$name] }
    $process = [System.Diagnostics.Process]::Start($start)
    $errors = $process.StandardError.ReadToEndAsync()
    $output = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    [pscustomobject]@{
        ExitCode = $process.ExitCode
        Output   = ($output -split "`r?`n")
        Errors   = $errors.Result
    }
}

# The first column of every row of -Sql, as text, run on the sandbox's warehouse as its superuser (Npgsql, loaded with
# the module): for what a DBA would check in psql.
function Invoke-SandboxSql {
    param([Parameter(Mandatory)] $Sandbox, [Parameter(Mandatory)] [string] $Sql)
    $db = [Npgsql.NpgsqlConnection]::new($Sandbox.GetSuperuserConnectionString())
    $db.Open()
    try {
        $command = $db.CreateCommand()
        $command.CommandText = $Sql
        $reader = $command.ExecuteReader()
        try { while ($reader.Read()) { if ($reader.IsDBNull(0)) { 'NULL' } else { [string]$reader.GetValue(0) } } } finally { $reader.Dispose() }
    } finally {
        $db.Dispose()
    }
}

# What a -WhatIf run must leave as it was, read from the catalog: every relation of the warehouse with its owner and
# privileges and its rows (count and hash), the routines, the foreign servers and user mappings, roles and cron jobs.
function Get-SandboxSnapshot {
    param([Parameter(Mandatory)] $Sandbox)
    $user = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
    $cron = if ((Invoke-SandboxSql $Sandbox "SELECT to_regclass('cron.job') IS NOT NULL") -eq 'True') {
        "UNION ALL SELECT 'cron ' || jobid || ' ' || schedule || ' ' || command || ' ' || active FROM cron.job"
    }
    Invoke-SandboxSql $Sandbox "
        SELECT 'rel ' || c.oid || ' ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE $user
        UNION ALL SELECT 'proc ' || p.oid::regprocedure || ' ' || md5(p.prosrc) || ' ' || coalesce(p.proacl::text, '')
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE $user
        UNION ALL SELECT 'server ' || srvname || ' ' || coalesce(srvoptions::text, '') FROM pg_foreign_server
        UNION ALL SELECT 'mapping ' || srvname || ' ' || usename || ' ' || coalesce(umoptions::text, '') FROM pg_user_mappings
        UNION ALL SELECT 'role ' || rolname || ' ' || rolcanlogin || ' ' || md5(coalesce(rolpassword, '')) FROM pg_authid WHERE rolname !~ '^pg_'
        $cron
        ORDER BY 1"
    foreach ($relation in Invoke-SandboxSql $Sandbox "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE $user AND n.nspname <> 'cron' AND c.relkind IN ('r', 'm', 'v') ORDER BY 1") {
        "rows $relation " + (Invoke-SandboxSql $Sandbox "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM $relation t")
    }
}
