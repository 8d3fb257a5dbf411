using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, item 1 (architecture fact 14): an overload whadmin puts in public (format(text, name), an operator
/// =(oid, regnamespace)) is chosen over pg_catalog's for an untyped literal and runs with the caller's rights. An admin
/// session (a superuser, a managed server's admin) resolves no name in public: Get-WhWarehouse, Install-WhWarehouse
/// -WhatIf and the install run none of it (the installer names it and refuses), and neither does the psql route's
/// create.sql. Run on the superuser cluster and on the managed-server emulation.
/// </summary>
internal static class OverloadTrojan
{
    /// <summary>Makes whadmin a superuser, or a CREATEROLE member of rds_superuser, in whichever admin session runs it.</summary>
    private const string Escalate =
        """
        BEGIN RESET ROLE; ALTER ROLE whadmin SUPERUSER; EXCEPTION WHEN OTHERS THEN NULL; END;
        BEGIN ALTER ROLE whadmin CREATEROLE; EXCEPTION WHEN OTHERS THEN NULL; END;
        BEGIN GRANT rds_superuser TO whadmin; EXCEPTION WHEN OTHERS THEN NULL; END;
        """;

    public static string PlantSql =>
        $$"""
        CREATE FUNCTION public.format(fmt text, a name) RETURNS text LANGUAGE plpgsql AS $f$
        BEGIN
            {{Escalate}}
            RETURN pg_catalog.format(fmt, a);
        END $f$;
        CREATE FUNCTION public.zz_oid_eq_namespace(a oid, b regnamespace) RETURNS boolean LANGUAGE plpgsql AS $f$
        BEGIN
            {{Escalate}}
            RETURN a OPERATOR(pg_catalog.=) b::oid;
        END $f$;
        CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regnamespace, FUNCTION = public.zz_oid_eq_namespace);
        GRANT EXECUTE ON FUNCTION public.format(text, name), public.zz_oid_eq_namespace(oid, regnamespace) TO PUBLIC;
        """;

    public const string RemoveSql =
        """
        DROP OPERATOR IF EXISTS public.= (oid, regnamespace);
        DROP FUNCTION IF EXISTS public.zz_oid_eq_namespace(oid, regnamespace);
        DROP FUNCTION IF EXISTS public.format(text, name);
        """;

    /// <summary>whadmin's attributes and admin memberships: "f f 0" while it stays whadmin.</summary>
    public static async Task<string> WhadminRightsAsync(string observer)
    {
        await using var db = new NpgsqlConnection(observer);
        await db.OpenAsync();
        return (string)(await PostgresServer.Scalar(db,
            """
            SELECT concat_ws(' ', r.rolsuper, r.rolcreaterole, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid))
            FROM pg_roles r WHERE r.rolname = 'whadmin'
            """))!;
    }

    /// <summary>
    /// The control that makes the tests able to fail: an admin session with the default search path that formats a name
    /// runs the planted overload (seen inside the transaction, rolled back).
    /// </summary>
    public static async Task ProveItWorksAsync(string adminConnectionString)
    {
        await using var db = new NpgsqlConnection(adminConnectionString);
        await db.OpenAsync();
        await using var transaction = await db.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT format('%I', 'x'::name)", db, transaction))
            await command.ExecuteScalarAsync();
        await using (var check = new NpgsqlCommand(
                         "SELECT r.rolsuper OR r.rolcreaterole FROM pg_roles r WHERE r.rolname = 'whadmin'", db, transaction))
            Assert.True((bool)(await check.ExecuteScalarAsync())!, "the planted overload should run in an admin session with the default search path");
        await transaction.RollbackAsync();
    }

    /// <summary>Get-WhWarehouse, Install-WhWarehouse -WhatIf and the install, as the admin: none runs the overloads.</summary>
    public static void DriveAdminCmdlets(string adminConnectionString)
    {
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = adminConnectionString,
            ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
        };
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).AssertSucceeded();
        var warehouse = shell.Run("Get-WhWarehouse", variables);
        Assert.True(warehouse.Succeeded, string.Join("; ", warehouse.AllErrors));
        Assert.Equal(WarehouseInstaller.TargetVersion(), warehouse.Single<WhWarehouse>().SchemaVersion);
        foreach (var install in new[] { "Install-WhWarehouse -WhatIf -WhadminCredential $wc", "Install-WhWarehouse -Confirm:$false -WhadminCredential $wc" })
        {
            var refused = shell.Run(install, variables);
            refused.AssertError("UntrustedCode");
            var message = refused.FirstError!.ToString();
            Assert.Contains("format(text,name) owned by whadmin", message);
            Assert.Contains("=(oid,regnamespace) owned by whadmin", message);
        }
    }
}

[Collection(WarehouseCollection.Name)]
public sealed class OverloadTrojanTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-overload-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task Overloads_whadmin_plants_in_public_never_run_in_a_superuser_session_of_the_module_or_the_psql_route()
    {
        var database = await server.CronWarehouseAsync();
        var superuser = server.ConnectionString(database);
        var clean = await OverloadTrojan.WhadminRightsAsync(superuser);
        await using (var wh = await server.OpenAsync(database, "whadmin"))
        await using (var plant = new NpgsqlCommand(OverloadTrojan.PlantSql, wh))
            await plant.ExecuteNonQueryAsync();
        try
        {
            await OverloadTrojan.ProveItWorksAsync(superuser);
            OverloadTrojan.DriveAdminCmdlets(superuser);
            Assert.Equal(clean, await OverloadTrojan.WhadminRightsAsync(superuser));

            RepositoryPaths.CopySqlTreeWithPasswords(work);
            var passwords = new Dictionary<string, string> { ["postgres"] = server.Cluster!.SuperuserPassword };
            (await SqlKit.PsqlAsync(server, work, "template1", "postgres", @"\i sql/create.sql", passwords)).AssertSucceeded();
            Assert.Equal(clean, await OverloadTrojan.WhadminRightsAsync(superuser));
        }
        finally
        {
            await using var su = await server.OpenAsync("postgres");
            await using (var reset = new NpgsqlCommand("ALTER ROLE whadmin NOSUPERUSER NOCREATEROLE", su)) await reset.ExecuteNonQueryAsync();
            await using var wh = await server.OpenAsync(database, "whadmin");
            await using var remove = new NpgsqlCommand(OverloadTrojan.RemoveSql, wh);
            await remove.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>The same attack on the managed-server emulation, against its admin (master).</summary>
public sealed class ManagedOverloadTrojanTests(ManagedPostgresServer server) : IClassFixture<ManagedPostgresServer>
{
    [Fact]
    public async Task Overloads_whadmin_plants_in_public_never_run_in_the_managed_admins_session()
    {
        var database = await server.AdminCreateDatabaseAsync("phood_warehouse");
        var admin = server.AdminConnectionString(database);
        using (var shell = new HostedPowerShell())
        {
            var installed = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false -WhadminCredential $wc",
                new Dictionary<string, object?> { ["cs"] = admin, ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword) });
            Assert.True(installed.Succeeded, string.Join("; ", installed.AllErrors));
        }
        var observer = server.ConnectionString(database);
        var clean = await OverloadTrojan.WhadminRightsAsync(observer);
        Assert.Equal("f f 0", clean);
        await using (var wh = await server.OpenAsync(database, "whadmin"))
        await using (var plant = new NpgsqlCommand(OverloadTrojan.PlantSql, wh))
            await plant.ExecuteNonQueryAsync();

        await OverloadTrojan.ProveItWorksAsync(admin);
        OverloadTrojan.DriveAdminCmdlets(admin);
        Assert.Equal(clean, await OverloadTrojan.WhadminRightsAsync(observer));

        // The admin does no warehouse work: every work cmdlet refuses its session, as a superuser's.
        using var adminShell = new HostedPowerShell();
        adminShell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", new Dictionary<string, object?> { ["cs"] = admin }).AssertSucceeded();
        foreach (var command in new[] { "Get-WhTenant", "Get-WhMvFreshness", "Get-WhHealth", "Get-WhCronJob", "Export-WhConfiguration -Path ./never.json" })
        {
            adminShell.Run(command).AssertError("SuperuserSession");
            Assert.Equal(clean, await OverloadTrojan.WhadminRightsAsync(observer));
        }
    }
}

/// <summary>Issue 26, item 11: a schema cron whadmin made before pg_cron (with a trojan where pg_cron's function would be) is named, and nothing runs.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class PrecreatedCronSchemaTests(PostgresServer server)
{
    [Fact]
    public async Task A_cron_schema_whadmin_made_is_refused_by_the_installer_by_name()
    {
        var database = await server.CreateWarehouseAsync();
        var superuser = server.ConnectionString(database);
        await using (var wh = await server.OpenAsync(database, "whadmin"))
        await using (var plant = new NpgsqlCommand(
            """
            CREATE SCHEMA cron;
            CREATE FUNCTION cron.schedule_in_database(a text, b text, c text, d text, e text DEFAULT NULL, f boolean DEFAULT true)
            RETURNS bigint LANGUAGE plpgsql AS $f$ BEGIN ALTER ROLE whadmin SUPERUSER; RETURN 1; END $f$;
            """, wh))
            await plant.ExecuteNonQueryAsync();
        var clean = await OverloadTrojan.WhadminRightsAsync(superuser);
        var before = await CatalogSnapshot.TakeAsync(superuser);
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = superuser, ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
        };
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).AssertSucceeded();
        var refused = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", variables);
        refused.AssertError("UntrustedCode");
        Assert.Contains("schema cron owned by whadmin", refused.FirstError!.ToString());
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));
        Assert.Equal(clean, await OverloadTrojan.WhadminRightsAsync(superuser));
    }
}
