namespace PhoodWarehouse.Tests.Managed;

/// <summary>
/// Issue 25: the guide's psql route, word for word, typed by a managed server's admin (not a superuser): create.sql
/// from template1, then \c phood_warehouse whadmin and functions.sql; twice. Then Install-WhWarehouse says UpToDate.
/// The stub passwords are refused before anything changes.
/// </summary>
public sealed class ManagedPsqlRouteTests(ManagedPostgresServer server) : IClassFixture<ManagedPostgresServer>, IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-managed-psql-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    private const string GuideStep1 =
        """
        \i sql/create.sql
        \c phood_warehouse whadmin
        \i sql/functions.sql
        \i sql/template-foodlogstats.sql
        """;

    private Dictionary<string, string> Passwords => new()
    {
        [ManagedPostgresServer.Admin] = ManagedPostgresServer.AdminPassword,
        ["whadmin"] = PostgresServer.WhadminPassword,
        ["phood_ro"] = PostgresServer.PhoodRoPassword,
    };

    [Fact]
    public async Task The_guides_psql_route_runs_twice_as_the_admin_and_Install_WhWarehouse_then_says_UpToDate()
    {
        RepositoryPaths.CopySqlTree(work);

        // Unedited: refused by name before the database exists.
        var refused = await SqlKit.PsqlAsync(server, work, "template1", ManagedPostgresServer.Admin, GuideStep1, Passwords);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("password stub", refused.Errors);
        Assert.False(await DatabaseExistsAsync("phood_warehouse"));

        RepositoryPaths.CopySqlTreeWithPasswords(work);
        for (var run = 1; run <= 2; run++)
            (await SqlKit.PsqlAsync(server, work, "template1", ManagedPostgresServer.Admin, GuideStep1, Passwords)).AssertSucceeded();

        var observer = server.ConnectionString("phood_warehouse");
        await ManagedChecks.AssertRolesStayInTheirLanesAsync(observer);
        await using (var ro = await server.OpenAsync("phood_warehouse", "phood_ro"))
            Assert.Equal(1, await PostgresServer.Scalar(ro, "SELECT 1"));
        // The monitoring login logs in with create.sql's password and reads its views (no tenant yet).
        await using (var monitor = await server.OpenAsync("phood_warehouse", "phood_monitor"))
        {
            Assert.Equal(0, await PostgresServer.Scalar(monitor, "SELECT tenants FROM warehouse"));
            Assert.Equal(0L, await PostgresServer.Scalar(monitor, "SELECT count(*) FROM freshness"));
        }

        // SET ROLE is no boundary: functions.sql refuses an admin session even as whadmin's current user.
        await using (var su = await server.OpenAsync("phood_warehouse"))
        await using (var grant = new NpgsqlCommand("GRANT whadmin TO master", su))
            await grant.ExecuteNonQueryAsync();
        try
        {
            var setRole = await SqlKit.PsqlAsync(server, work, "phood_warehouse", ManagedPostgresServer.Admin,
                "SET ROLE whadmin;\n\\i sql/functions.sql", Passwords);
            Assert.NotEqual(0, setRole.ExitCode);
            Assert.Contains("authenticated as whadmin", setRole.Errors);
        }
        finally
        {
            await using var su = await server.OpenAsync("phood_warehouse");
            await using var revoke = new NpgsqlCommand("REVOKE whadmin FROM master", su);
            await revoke.ExecuteNonQueryAsync();
        }

        using var shell = new HostedPowerShell();
        var installed = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false -WhadminCredential $wc",
            new Dictionary<string, object?>
            {
                ["cs"] = server.AdminConnectionString("phood_warehouse"),
                ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
            });
        Assert.True(installed.Succeeded, string.Join("; ", installed.AllErrors));
        Assert.Equal("UpToDate", installed.Single<WhInstallResult>().Action);
    }

    private async Task<bool> DatabaseExistsAsync(string name)
    {
        await using var su = await server.OpenAsync("postgres");
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", su);
        command.Parameters.AddWithValue(name);
        return (bool)(await command.ExecuteScalarAsync())!;
    }
}
