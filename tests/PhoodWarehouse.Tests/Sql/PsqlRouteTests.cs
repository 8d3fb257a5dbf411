namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// The guide's install route, typed into psql as written: \i sql/create.sql from template1 as postgres (password stubs
/// replaced, as the guide tells DBAs), \c phood_warehouse whadmin, \i sql/functions.sql, \i sql/template-foodlogstats.sql;
/// then Step 2's verification queries and the author's verification notes.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class PsqlRouteTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-psql-").FullName;

    private static readonly string[] GuideFunctions =
    [
        "create_foodlogstats_mv", "create_mv_from_template", "create_mv_name", "does_mv_exist", "get_tenant_connection_string",
        "update_foodlogstats", "update_mv_by_template", "update_mv_core", "update_mv_window", "update_mv_window_by_template",
        "update_public_view_by_template", "update_tenant_union_view_by_template", "update_tenant_view",
    ];

    public void Dispose() => Directory.Delete(work, recursive: true);

    private static string SqlLiteralBody(string value) => value.Replace("'", "''");

    /// <summary>A copy of sql/ with the password stubs of create.sql replaced, as the guide's Step 1 asks.</summary>
    private void CopySqlFolder()
    {
        var create = File.ReadAllText(Path.Combine(RepositoryPaths.CopySqlTree(work), "create.sql"));
        Assert.Contains("STUB_WHADMIN_PASSWORD", create);
        Assert.Contains("STUB_PHOOD_RO_PASSWORD", create);
        Assert.Contains("STUB_PHOOD_MONITOR_PASSWORD", create);
        RepositoryPaths.CopySqlTreeWithPasswords(work);
    }

    private Dictionary<string, string> Passwords => new()
    {
        ["postgres"] = server.Cluster!.SuperuserPassword,
        ["whadmin"] = PostgresServer.WhadminPassword,
        ["phood_ro"] = PostgresServer.PhoodRoPassword,
        ["phood_monitor"] = PostgresServer.PhoodMonitorPassword,
    };

    private const string GuideStep1 =
        """
        \i sql/create.sql
        \c phood_warehouse whadmin
        \i sql/functions.sql
        \i sql/template-foodlogstats.sql
        """;

    [Fact]
    public async Task Guide_step_1_runs_twice_from_template1_and_step_2_verifies_functions_table_and_roles()
    {
        CopySqlFolder();
        for (var run = 1; run <= 2; run++)
        {
            var result = await SqlKit.PsqlAsync(server, work, "template1", "postgres", GuideStep1, Passwords);
            result.AssertSucceeded();
        }

        // Step 2, as whadmin (the session the guide is in after \c phood_warehouse whadmin).
        await using var wh = await SqlKit.OpenAsync(server, "phood_warehouse", "whadmin");
        var routines = await wh.ColumnAsync(
            "SELECT routine_name FROM information_schema.routines WHERE routine_schema = '_wh' ORDER BY routine_name");
        foreach (var name in GuideFunctions) Assert.Contains(name, routines);
        Assert.Contains("run_mv_window_by_template", routines);
        Assert.Contains("remove_tenant", routines);

        var describe = await SqlKit.PsqlAsync(server, work, "phood_warehouse", "whadmin", @"\d _wh.tenant_connections", Passwords);
        describe.AssertSucceeded();
        foreach (var column in new[] { "tenant_name", "host", "port", "dbname", "username", "password" })
            Assert.Contains(column, describe.Output);

        var roles = await wh.RowsAsync(
            """
            SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin
            FROM pg_roles WHERE rolname IN ('postgres', 'whadmin', 'phood_ro') ORDER BY rolname
            """);
        Assert.Equal(new[] { "phood_ro", "postgres", "whadmin" }, roles.Select(r => (string)r[0]!));
        Assert.Equal(new[] { false, false, false, true }, roles[0][1..].Cast<bool>());
        Assert.True((bool)roles[1][1]!);
        Assert.Equal(new[] { false, false, false, true }, roles[2][1..].Cast<bool>());

        // Extensions, template, version, owner: what "This will:" promises.
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_extension WHERE extname IN ('dblink', 'pg_cron')"));
        Assert.Equal("foodlogstats", await wh.ScalarAsync<string>("SELECT string_agg(template_name, ',') FROM _wh.mv_templates"));
        Assert.Equal(WarehouseInstaller.TargetVersion(), await wh.ScalarAsync<string>("SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'"));
        Assert.Equal("whadmin", await wh.ScalarAsync<string>("SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = '_wh'"));

        // The stub passwords were replaced: the roles log in with them (quote, backslash, ';', '=', non-ASCII).
        await using var ro = await SqlKit.OpenAsync(server, "phood_warehouse", "phood_ro");
        Assert.Equal(1, await ro.ScalarAsync<int>("SELECT 1"));
        await using var monitor = await SqlKit.OpenAsync(server, "phood_warehouse", "phood_monitor");
        Assert.Equal(WarehouseInstaller.TargetVersion(), await monitor.ScalarAsync<string>("SELECT schema_version FROM warehouse"));
    }

    [Fact]
    public async Task Author_notes_a_connection_typed_in_psql_feeds_a_day_and_the_tenant_is_removed_idempotently()
    {
        CopySqlFolder();
        (await SqlKit.PsqlAsync(server, work, "template1", "postgres", GuideStep1, Passwords)).AssertSucceeded();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 7);
        var conn = PostgresServer.UniqueName("psql_conn");
        var schema = PostgresServer.UniqueName("psql_tenant");
        var yesterday = SqlKit.Today(server).AddDays(-1);

        var insert =
            $"""
             INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password)
             VALUES ('{conn}', '127.0.0.1', {source.Port}, '{source.Database}', '{source.ReaderUser}', '{SqlLiteralBody(source.ReaderPassword)}');
             SELECT * FROM dblink(_wh.get_tenant_connection_string('{conn}'), 'SELECT 1 as test') AS t(test integer);
             SELECT _wh.update_mv_by_template('foodlogstats', '{conn}', '{schema}', CURRENT_DATE - 1);
             """;
        (await SqlKit.PsqlAsync(server, work, "phood_warehouse", "whadmin", insert, Passwords)).AssertSucceeded();

        await using var su = await SqlKit.OpenAsync(server, "phood_warehouse");
        Assert.Null(await su.ScalarAsync<string?>("SELECT password FROM _wh.tenant_connections WHERE tenant_name = $1", conn));
        Assert.Equal("whadmin", await su.ScalarAsync<string>(
            "SELECT pg_get_userbyid(srvowner)::text FROM pg_foreign_server WHERE srvname = $1", "wh_" + conn));
        Assert.Equal("whadmin", await su.ScalarAsync<string>(
            "SELECT usename::text FROM pg_user_mappings WHERE srvname = $1", "wh_" + conn));
        var view = SqlKit.ViewName("foodlogstats", yesterday);
        Assert.Equal(await SqlKit.SourceRowsAsync(server, source, yesterday),
            await su.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{view}"));
        Assert.Equal(7L, await su.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));

        // Deleting the connection row is refused while the schema uses it; nothing changes.
        await using var wh = await SqlKit.OpenAsync(server, "phood_warehouse", "whadmin");
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString("phood_warehouse"));
        var refused = await wh.FailsAsync("DELETE FROM _wh.tenant_connections WHERE tenant_name = $1", ["2BP01"], conn);
        Assert.Contains(schema, refused.MessageText);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString("phood_warehouse")));

        var first = await wh.ScalarAsync<string>("SELECT _wh.remove_tenant($1)::text", schema);
        Assert.Contains("\"schema_dropped\": true", first);
        Assert.Contains($"\"connection_removed\": \"{conn}\"", first);
        var second = await wh.ScalarAsync<string>("SELECT _wh.remove_tenant($1)::text", schema);
        Assert.Contains("\"unregistered\": false", second);
        Assert.Contains("\"schema_dropped\": false", second);
        Assert.False(await su.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = $1)", "wh_" + conn));
        Assert.False(await su.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema));
        Assert.DoesNotContain(schema, await su.ScalarAsync<string>("SELECT pg_get_viewdef('public.foodlogstats'::regclass)"));
    }
}
