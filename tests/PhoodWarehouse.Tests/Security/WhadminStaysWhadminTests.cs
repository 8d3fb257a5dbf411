using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Finding 1 of docs/security.md, as an attacker holding whadmin's password would try it: whadmin plants code that
/// makes it a superuser when a superuser session runs it (a trigger on every _wh table, a replaced function body),
/// then a DBA drives every cmdlet connected as postgres and runs the psql route. whadmin stays NOSUPERUSER.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class WhadminStaysWhadminTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-trojan-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    /// <summary>Makes whadmin a superuser when a superuser session runs it; does nothing (quietly) as whadmin.</summary>
    private const string Escalate =
        """
        BEGIN
            RESET ROLE;
            ALTER ROLE whadmin SUPERUSER;
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        """;

    private static string PlantSql =>
        $$"""
        CREATE FUNCTION _wh.zz_trojan() RETURNS trigger LANGUAGE plpgsql AS $t$
        BEGIN
            {{Escalate}}
            RETURN NULL;
        END $t$;
        DO $d$
        DECLARE t text;
        BEGIN
            FOR t IN SELECT c.relname FROM pg_class c WHERE c.relnamespace = '_wh'::regnamespace AND c.relkind = 'r' LOOP
                EXECUTE format('CREATE TRIGGER zz_trojan AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _wh.%I FOR EACH STATEMENT EXECUTE FUNCTION _wh.zz_trojan()', t);
            END LOOP;
        END $d$;
        -- A replaced body of a function every tenant command calls.
        CREATE OR REPLACE FUNCTION _wh.server_name(tenant_name text) RETURNS text LANGUAGE plpgsql VOLATILE AS $f$
        BEGIN
            {{Escalate}}
            RETURN 'wh_' || tenant_name;
        END $f$;
        """;

    private async Task<bool> WhadminIsSuperuserAsync()
    {
        await using var db = await server.OpenAsync("postgres");
        return (bool)(await PostgresServer.Scalar(db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'whadmin'"))!;
    }

    private async Task ExecAsync(string database, string? user, string sql)
    {
        await using var db = await server.OpenAsync(database, user);
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Trojans_planted_by_whadmin_never_run_in_a_superuser_session_from_any_cmdlet_or_the_psql_route()
    {
        // The psql route's create.sql works on phood_warehouse: the trojans go there (and are removed at the end).
        var database = await server.CronWarehouseAsync();
        using var wh = await WarehouseScenario.StartAsync(server, database);
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10);
        var tenant = PostgresServer.UniqueName("trojan");
        wh.AddTenant(tenant, source);
        var file = Path.Combine(work, "config.json");
        Assert.True(wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = file }).Succeeded);
        Assert.False(await WhadminIsSuperuserAsync());

        await ExecAsync(database, "whadmin", PlantSql);
        try
        {
            await ProveTheTrojanWorksInARolledBackSetRoleSessionAsync(database);

            var superuser = server.ConnectionString(database);
            var before = await CatalogSnapshot.TakeAsync(superuser);
            using var shell = new HostedPowerShell();
            var variables = new Dictionary<string, object?>
            {
                ["cs"] = superuser, ["t"] = tenant, ["f"] = file, ["out"] = Path.Combine(work, "out.json"), ["from"] = WarehouseClock.ServerToday(server.ConnectionString()).AddDays(-2).ToDateTime(TimeOnly.MinValue),
                ["h"] = source.Host, ["p"] = source.Port, ["d"] = source.Database,
                ["c"] = WarehouseScenario.Credential(source.ReaderUser, source.ReaderPassword),
                ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
            };
            Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).Succeeded);

            var workCommands = new[]
            {
                "Get-WhTenant", "Get-WhTemplate", "Get-WhMv -Tenant $t -Template foodlogstats", "Get-WhMvFreshness", "Get-WhHealth",
                "Get-WhCronJob", "Get-WhCronJobRun", "Test-WhTenantConnection $t", "Test-WhTemplate foodlogstats $t",
                "New-WhTenant -Name zz_new -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false",
                "Set-WhTenant $t -ClientName Hacked -Confirm:$false",
                "Set-WhTemplate foodlogstats -Description hacked -Confirm:$false",
                "Invoke-WhMvBackfill $t -Template foodlogstats -From $from -Confirm:$false",
                "Update-WhMv $t foodlogstats -Confirm:$false",
                "Update-WhUnionView $t foodlogstats -Confirm:$false",
                "Remove-WhMv $t foodlogstats -Date $from -Confirm:$false",
                "Register-WhCronJob $t foodlogstats '0 2 * * *' -Confirm:$false",
                "Enable-WhCronJob -Name x -Confirm:$false", "Disable-WhCronJob -Name x -Confirm:$false",
                "Unregister-WhCronJob -Name x -Confirm:$false", "Clear-WhCronJobRun -OlderThan 1.00:00:00 -Confirm:$false",
                "Export-WhConfiguration -Path $out -Confirm:$false",
                "Import-WhConfiguration -Path $f -SourceCredential $c -Confirm:$false",
                "Remove-WhTemplate foodlogstats -Confirm:$false",
                "Remove-WhTenant $t -Confirm:$false",
            };
            foreach (var command in workCommands)
            {
                var refused = shell.Run(command, variables);
                refused.AssertError("SuperuserSession");
                Assert.Contains("whadmin", refused.FirstError!.ToString());
                Assert.False(await WhadminIsSuperuserAsync(), command);
            }

            // The installer finds the planted code before any superuser work, with or without -WhadminCredential.
            foreach (var install in new[] { "Install-WhWarehouse -Confirm:$false", "Install-WhWarehouse -Confirm:$false -WhadminCredential $wc" })
            {
                var refused = shell.Run(install, variables);
                refused.AssertError("UntrustedCode");
                Assert.Contains("zz_trojan", refused.FirstError!.ToString());
            }
            // Get-WhWarehouse reads pg_catalog only.
            Assert.Equal(WarehouseInstaller.TargetVersion(), shell.Run("Get-WhWarehouse", variables).Single<WhWarehouse>().SchemaVersion);
            Assert.False(await WhadminIsSuperuserAsync());
            Assert.Equal(before, await CatalogSnapshot.TakeAsync(superuser));

            // The psql route: postgres runs create.sql only (roles, extensions, grants), never a _wh object.
            var passwords = new Dictionary<string, string>
            {
                ["postgres"] = server.Cluster!.SuperuserPassword, ["whadmin"] = PostgresServer.WhadminPassword,
                ["phood_ro"] = PostgresServer.PhoodRoPassword,
            };
            RepositoryPaths.CopySqlTreeWithPasswords(work);
            (await SqlKit.PsqlAsync(server, work, "template1", "postgres", @"\i sql/create.sql", passwords)).AssertSucceeded();
            Assert.False(await WhadminIsSuperuserAsync());

            // functions.sql from a superuser session, even after SET ROLE whadmin, stops at its first statement.
            var setRole = await SqlKit.PsqlAsync(server, work, database, "postgres", "SET ROLE whadmin;\n\\i sql/functions.sql", passwords);
            Assert.NotEqual(0, setRole.ExitCode);
            Assert.Contains("authenticated as whadmin", setRole.Errors);
            Assert.False(await WhadminIsSuperuserAsync());
        }
        finally
        {
            await ExecAsync("postgres", null, "ALTER ROLE whadmin NOSUPERUSER");
            await ExecAsync(database, "whadmin",
                "DROP FUNCTION _wh.zz_trojan() CASCADE; " + SqlScripts.Read(SqlScripts.Functions));
        }
    }

    /// <summary>
    /// The control that makes the test able to fail: in a superuser session, SET ROLE whadmin and one row written to a
    /// _wh table make whadmin a superuser (seen inside the transaction, rolled back so nothing outside ever sees it).
    /// </summary>
    private async Task ProveTheTrojanWorksInARolledBackSetRoleSessionAsync(string database)
    {
        await using var db = await server.OpenAsync(database);
        await using var transaction = await db.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand(
                         "SET LOCAL ROLE whadmin; UPDATE _wh.warehouse_info SET value = value WHERE key = 'schema_version'; RESET ROLE;", db, transaction))
            await command.ExecuteNonQueryAsync();
        await using (var check = new NpgsqlCommand("SELECT rolsuper FROM pg_roles WHERE rolname = 'whadmin'", db, transaction))
            Assert.True((bool)(await check.ExecuteScalarAsync())!, "the planted trigger should make whadmin a superuser when a superuser session fires it");
        await transaction.RollbackAsync();
    }
}
