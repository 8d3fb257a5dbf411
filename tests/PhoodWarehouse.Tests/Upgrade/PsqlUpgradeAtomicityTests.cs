namespace PhoodWarehouse.Tests.Upgrade;

/// <summary>
/// Issue 27, item 5: the psql upgrade is one transaction. A failure midway through <c>\i sql/functions.sql</c> (here an
/// error planted in one of its parts, standing for a crash or a Ctrl+C) leaves the old release whole: its version and
/// every routine as they were; the unchanged script then upgrades it.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class PsqlUpgradeAtomicityTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-psql-upgrade-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    private const string Routines =
        "SELECT string_agg(p.oid::regprocedure::text || ' ' || md5(p.prosrc), E'\\n' ORDER BY 1) FROM pg_proc p WHERE p.pronamespace = '_wh'::regnamespace";

    [Fact]
    public async Task A_psql_upgrade_that_fails_midway_leaves_the_old_release_whole_and_a_rerun_finishes_it()
    {
        var database = await server.CreateDatabaseAsync("psqlup");
        var release = new FrozenRelease("0.1.0");
        await release.InstallAsync(server.ConnectionString(database), server.ConnectionString(database, "whadmin"),
            PostgresServer.WhadminPassword, PostgresServer.PhoodRoPassword);
        await server.SetRolePasswordsAsync();
        var superuser = server.ConnectionString(database);
        var version = "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'";
        Assert.Equal(release.SchemaVersion, await SqlKit.ScalarAsync<string>(superuser, version));
        var before = await SqlKit.ScalarAsync<string>(superuser, Routines);

        var sql = RepositoryPaths.CopySqlTree(work);
        var part = Path.Combine(sql, "wh", "15-one-day.sql");
        File.AppendAllText(part, "\nSELECT 1 / 0 AS interrupted_midway;\n");
        var passwords = new Dictionary<string, string> { ["whadmin"] = PostgresServer.WhadminPassword };
        var failed = await SqlKit.PsqlAsync(server, work, database, "whadmin", @"\i sql/functions.sql", passwords);
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("division by zero", failed.Errors);

        Assert.Equal(release.SchemaVersion, await SqlKit.ScalarAsync<string>(superuser, version));
        Assert.Equal(before, await SqlKit.ScalarAsync<string>(superuser, Routines));

        RepositoryPaths.CopySqlTree(work);
        (await SqlKit.PsqlAsync(server, work, database, "whadmin", @"\i sql/functions.sql", passwords)).AssertSucceeded();
        Assert.Equal(WarehouseInstaller.TargetVersion(), await SqlKit.ScalarAsync<string>(superuser, version));
    }
}
