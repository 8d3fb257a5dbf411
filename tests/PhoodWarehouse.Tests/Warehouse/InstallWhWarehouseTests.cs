using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Tests.Warehouse;

[Collection(WarehouseCollection.Name)]
public sealed class InstallWhWarehouseTests(PostgresServer server)
{
    private static Dictionary<string, object?> Cs(string connectionString) => new()
    {
        ["cs"] = connectionString,
        ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
    };

    [Fact]
    public async Task WhatIf_changes_nothing_then_install_then_a_second_install_changes_nothing_and_says_so()
    {
        var database = await server.CreateDatabaseAsync();
        var superuser = server.ConnectionString(database);
        using var shell = new HostedPowerShell();
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(superuser)).Succeeded);

        var before = await CatalogSnapshot.TakeAsync(superuser);
        var whatIf = shell.Run("Install-WhWarehouse -WhatIf -WhadminCredential $wc", Cs(superuser));
        whatIf.AssertSucceeded();
        Assert.Equal(
            [
                "create roles, extensions and grants as postgres (setup-database.sql); " +
                $"install the _wh schema {WarehouseInstaller.TargetVersion()} over a whadmin session (functions.sql); load template 'foodlogstats' (template-foodlogstats.sql)" +
                $" | {database} on {server.Host}:{server.Port}",
            ], whatIf.WhatIf);
        Assert.Empty(whatIf.Output);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));


        var install = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", Cs(superuser));
        Assert.True(install.Succeeded, string.Join("; ", install.AllErrors));
        var installed = install.Single<WhInstallResult>();
        Assert.Equal("Installed", installed.Action);
        Assert.Null(installed.NextStep);
        Assert.Equal(WarehouseInstaller.TargetVersion(), installed.SchemaVersion);
        Assert.Contains(installed.Steps, step => step.Contains("setup-database.sql"));
        Assert.Contains(installed.Steps, step => step.Contains("functions.sql"));
        Assert.Contains(install.Warnings, w => w.Message.Contains("pg_cron"));

        var afterInstall = await CatalogSnapshot.TakeAsync(superuser);
        var again = shell.Run("Install-WhWarehouse -Confirm:$false -Verbose -WhadminCredential $wc", Cs(superuser));
        Assert.Equal("UpToDate", again.Single<WhInstallResult>().Action);
        Assert.Contains(again.Verbose, v => v.Message.Contains("nothing to do"));
        Assert.Equal(afterInstall, await CatalogSnapshot.TakeAsync(superuser));

        // A superuser reads pg_catalog only: the version (from the schema's comment), no counts.
        var asSuperuser = shell.Run("Get-WhWarehouse");
        Assert.Equal(WarehouseInstaller.TargetVersion(), asSuperuser.Single<WhWarehouse>().SchemaVersion);
        Assert.Contains(asSuperuser.Warnings, w => w.Message.Contains("whadmin"));

        var info = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Get-WhWarehouse",
            Cs(server.ConnectionString(database, "whadmin"))).Single<WhWarehouse>();
        Assert.Equal(WarehouseInstaller.TargetVersion(), info.SchemaVersion);
        Assert.True(info.Dblink);
        Assert.Equal(1, info.TemplateCount);
        Assert.Equal(0, info.TenantCount);
        Assert.True(info.DatabaseSizeBytes > 0);
    }

    [Fact]
    public async Task Everything_install_creates_belongs_to_whadmin()
    {
        var database = await server.CreateWarehouseAsync();
        await using var db = await server.OpenAsync(database);
        var foreign = await PostgresServer.Scalar(db,
            """
            SELECT string_agg(what, ', ') FROM (
              SELECT 'schema _wh' AS what FROM pg_namespace WHERE nspname = '_wh' AND pg_get_userbyid(nspowner) <> 'whadmin'
              UNION ALL SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = '_wh' AND pg_get_userbyid(c.relowner) <> 'whadmin'
              UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = '_wh' AND pg_get_userbyid(p.proowner) <> 'whadmin') x
            """);
        Assert.Null(foreign as string);
    }

    [Fact]
    public async Task Whadmin_sees_an_up_to_date_warehouse_and_cannot_do_the_superuser_part()
    {
        var installed = await server.CreateWarehouseAsync();
        using var shell = new HostedPowerShell();
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(server.ConnectionString(installed, "whadmin")));
        Assert.Equal("UpToDate", shell.Run("Install-WhWarehouse").Single<WhInstallResult>().Action);

        var empty = await server.CreateDatabaseAsync();
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(empty));
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(server.ConnectionString(empty, "whadmin")));
        var refused = shell.Run("Install-WhWarehouse -Confirm:$false");
        refused.AssertError("SuperuserRequired");
        Assert.Contains("create.sql", refused.FirstError!.ToString());
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(empty)));
    }

    [Fact]
    public async Task The_read_only_role_is_refused_with_a_clear_error()
    {
        var installed = await server.CreateWarehouseAsync();
        using var shell = new HostedPowerShell();
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(server.ConnectionString(installed, "phood_ro")));
        var refused = shell.Run("Install-WhWarehouse -Confirm:$false");
        refused.AssertError("InstallPermissionDenied");
        Assert.Contains("phood_ro", refused.FirstError!.ToString());
    }

    [Fact]
    public async Task In_the_cron_database_pg_cron_is_installed_and_its_history_is_reported()
    {
        Assert.True(server.HasPgCron, "the test cluster must preload pg_cron");
        var database = await server.CronWarehouseAsync();
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Get-WhWarehouse",
            Cs(server.ConnectionString(database, "whadmin")));

        var info = result.Single<WhWarehouse>();
        Assert.True(info.PgCron);
        Assert.NotNull(info.CronHistoryRows);
        Assert.NotNull(info.CronHistorySizeBytes);
    }

    [Fact]
    public async Task Without_pg_cron_the_install_still_works_and_says_how_to_enable_schedules()
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        using var shell = new HostedPowerShell();
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(cluster.ConnectionString()));
        var result = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc; Get-WhWarehouse", Cs(cluster.ConnectionString()));

        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        Assert.Equal("Installed", ((WhInstallResult)result.Output[0].BaseObject).Action);
        Assert.False(((WhWarehouse)result.Output[1].BaseObject).PgCron);
        Assert.Contains(result.Warnings, w => w.Message.Contains("shared_preload_libraries"));
    }

    [Fact]
    public async Task A_superuser_without_whadmin_credential_does_only_the_superuser_part_and_names_the_next_step()
    {
        var database = await server.CreateDatabaseAsync();
        using var shell = new HostedPowerShell();
        var connect = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", Cs(server.ConnectionString(database)));
        Assert.Contains(connect.Warnings, w => w.Message.Contains("superuser") && w.Message.Contains("whadmin"));

        var prepared = shell.Run("Install-WhWarehouse -Confirm:$false").Single<WhInstallResult>();
        Assert.Equal("Prepared", prepared.Action);
        Assert.Contains("whadmin", prepared.NextStep);
        // Schema _wh is whadmin's own: the superuser part does not even create it (functions.sql does, as whadmin).
        Assert.Equal(0L, await Count(database, "SELECT count(*) FROM pg_namespace WHERE nspname = '_wh'"));

        await server.SetRolePasswordsAsync();

        var done = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false",
            Cs(server.ConnectionString(database, "whadmin")));
        Assert.True(done.Succeeded, string.Join("; ", done.AllErrors));
        Assert.Equal("Installed", done.Single<WhInstallResult>().Action);
    }

    [Fact]
    public async Task A_superuser_install_refuses_code_in_wh_that_the_scripts_do_not_define_and_names_it()
    {
        var database = await server.CreateWarehouseAsync();
        await using (var whadmin = await server.OpenAsync(database, "whadmin"))
        await using (var plant = new Npgsql.NpgsqlCommand(
            """
            CREATE FUNCTION _wh.extra_helper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER zz_extra BEFORE INSERT ON _wh.run_log FOR EACH ROW EXECUTE FUNCTION _wh.extra_helper();
            CREATE RULE zz_rule AS ON UPDATE TO _wh.warehouse_info DO ALSO NOTIFY wh;
            ALTER TABLE _wh.tenants ENABLE ROW LEVEL SECURITY;
            CREATE POLICY zz_policy ON _wh.tenants USING (true);
            """, whadmin))
            await plant.ExecuteNonQueryAsync();
        var superuser = server.ConnectionString(database);
        // An event trigger would fire on the superuser part's own DDL.
        await using (var admin = await server.OpenAsync(database))
        await using (var evt = new Npgsql.NpgsqlCommand(
            """
            CREATE FUNCTION public.zz_on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
            CREATE EVENT TRIGGER zz_event ON ddl_command_end EXECUTE FUNCTION public.zz_on_ddl();
            """, admin))
            await evt.ExecuteNonQueryAsync();
        var before = await CatalogSnapshot.TakeAsync(superuser);

        using var shell = new HostedPowerShell();
        var refused = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false -WhadminCredential $wc",
            Cs(superuser));
        refused.AssertError("UntrustedCode");
        var message = refused.FirstError!.ToString();
        foreach (var name in new[] { "zz_extra", "extra_helper", "zz_rule", "zz_policy", "zz_event" }) Assert.Contains(name, message);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));
    }

    [Fact]
    public async Task A_wrong_or_misplaced_whadmin_credential_is_refused_before_anything_changes()
    {
        var database = await server.CreateWarehouseAsync();
        var superuser = server.ConnectionString(database);
        var before = await CatalogSnapshot.TakeAsync(superuser);
        using var shell = new HostedPowerShell();
        var variables = Cs(superuser);
        variables["wrong"] = WarehouseScenario.Credential("whadmin", "not the password");
        variables["other"] = WarehouseScenario.Credential("phood_ro", PostgresServer.PhoodRoPassword);
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).Succeeded);

        shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wrong", variables).AssertError("LoginRefused");
        shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $other", variables).AssertError("WhadminCredentialInvalid");
        var asWhadmin = shell.Run("Connect-WhWarehouse -ConnectionString $w | Out-Null; Install-WhWarehouse -Confirm:$false -WhadminCredential $wc",
            new Dictionary<string, object?>(variables) { ["w"] = server.ConnectionString(database, "whadmin") });
        asWhadmin.AssertError("WhadminCredentialNotNeeded");
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));
    }

    private async Task<long> Count(string database, string sql)
    {
        await using var db = await server.OpenAsync(database);
        return (long)(await PostgresServer.Scalar(db, sql))!;
    }

    [Fact]
    public async Task A_stub_or_empty_whadmin_password_is_refused_by_WhatIf_and_by_the_install_before_anything_changes()
    {
        var database = await server.CreateDatabaseAsync();
        var superuser = server.ConnectionString(database);
        var before = await CatalogSnapshot.TakeAsync(superuser);
        using var shell = new HostedPowerShell();
        var variables = Cs(superuser);
        variables["stub"] = WarehouseScenario.Credential("whadmin", "STUB_WHADMIN_PASSWORD");
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).Succeeded);
        foreach (var install in new[] { "Install-WhWarehouse -WhatIf -WhadminCredential $stub", "Install-WhWarehouse -Confirm:$false -WhadminCredential $stub" })
        {
            var refused = shell.Run(install, variables);
            refused.AssertError("InvalidPassword");
            Assert.Contains("STUB_WHADMIN_PASSWORD", refused.FirstError!.ToString());
        }
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));
    }
}
