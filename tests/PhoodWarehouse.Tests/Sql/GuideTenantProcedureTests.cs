namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// The guide's tenant procedures typed as written with real names, as the role the guide names: Adding a New Tenant
/// (steps 1–5), Troubleshooting 1–4, Re-creating a Single Materialized View, Re-creating an Entire Tenant Dataset.
/// The source holds January 2024 (the guide's dates) plus some rows today.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class GuideTenantProcedureTests(PostgresServer server)
{
    private static readonly Once<SharedWarehouse> Shared = new();
    private static readonly DateOnly Jan1 = new(2024, 1, 1);

    private Task<SharedWarehouse> EnvAsync() => Shared.Get(async () =>
    {
        var env = await SharedWarehouse.CreateAsync(server, days: 31, rowsPerDay: 3, firstDay: Jan1);
        await SqlKit.AddSourceRowsAsync(server, env.Source, SqlKit.Today(server), 4);
        return env;
    });

    [Fact]
    public async Task Adding_a_new_tenant_steps_1_to_5_as_written()
    {
        var env = await EnvAsync();
        var tenant = PostgresServer.UniqueName("new_tenant");
        var conn = PostgresServer.UniqueName("new_tenant_conn");
        var other = PostgresServer.UniqueName("landb");
        await using var postgres = await SqlKit.OpenAsync(server, env.Database);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");

        // Step 1 (as postgres). Two of its lines are not PostgreSQL: they fail with a syntax error (documented).
        await postgres.ExecAsync($"CREATE SCHEMA {tenant}");
        foreach (var line in new[]
                 {
                     $"GRANT ALL PRIVILEGES ON SCHEMA {tenant} TO whadmin",
                     $"GRANT ALL ON ALL TABLES IN SCHEMA {tenant} TO whadmin",
                     $"ALTER DEFAULT PRIVILEGES IN SCHEMA {tenant} GRANT ALL ON TABLES TO whadmin",
                     $"GRANT USAGE ON SCHEMA {tenant} TO phood_ro",
                     $"GRANT SELECT ON ALL TABLES IN SCHEMA {tenant} TO phood_ro",
                     $"ALTER DEFAULT PRIVILEGES IN SCHEMA {tenant} GRANT SELECT ON TABLES TO phood_ro",
                 })
            await postgres.ExecAsync(line);
        await postgres.FailsAsync($"GRANT ALL ON ALL MATERIALIZED VIEWS IN SCHEMA {tenant} TO whadmin", ["42601"]);
        await postgres.FailsAsync($"ALTER DEFAULT PRIVILEGES IN SCHEMA {tenant} GRANT ALL ON VIEWS TO whadmin", ["42601"]);
        await postgres.FailsAsync($"GRANT SELECT ON ALL MATERIALIZED VIEWS IN SCHEMA {tenant} TO phood_ro", ["42601"]);

        // Step 2 (direct SQL, here as postgres): the password goes into a whadmin-owned user mapping, the column stays NULL.
        await postgres.AddConnectionAsync(conn, env.Source);
        Assert.Null(await postgres.ScalarAsync<string?>("SELECT password FROM _wh.tenant_connections WHERE tenant_name = $1", conn));
        Assert.Equal("whadmin", await postgres.ScalarAsync<string>(
            "SELECT pg_get_userbyid(srvowner)::text FROM pg_foreign_server WHERE srvname = $1", "wh_" + conn));

        // Step 3 (as whadmin; as postgres there is no user mapping: a clear error).
        Assert.Equal("wh_" + conn, await wh.ScalarAsync<string>($"SELECT _wh.get_tenant_connection_string('{conn}')"));
        Assert.Equal(1, await wh.ScalarAsync<int>(
            $"SELECT * FROM dblink(_wh.get_tenant_connection_string('{conn}'), 'SELECT 1 as test') AS t(test integer)"));
        var noMapping = await postgres.FailsAsync(
            $"SELECT * FROM dblink(_wh.get_tenant_connection_string('{conn}'), 'SELECT 1 as test') AS t(test integer)");
        Assert.Contains("user mapping", noMapping.MessageText);

        // Step 4 (as whadmin), the guide's four calls.
        await wh.ExecAsync($"SELECT _wh.update_mv_by_template('foodlogstats', '{conn}', '{tenant}', CURRENT_DATE)");
        var window = await wh.ScalarAsync<string>(
            $"SELECT _wh.update_mv_window_by_template('foodlogstats', '{conn}', '{tenant}', '2024-01-01'::date, '2024-01-31'::date)::text");
        Assert.Contains("\"created\": 31", window);
        Assert.Equal($"{tenant}.foodlogstats", await wh.ScalarAsync<string>(
            $"SELECT _wh.update_tenant_union_view_by_template('foodlogstats', '{conn}', '{tenant}')"));
        Assert.Equal("public.foodlogstats", await wh.ScalarAsync<string>("SELECT _wh.update_public_view_by_template('foodlogstats')"));

        var january = await SqlKit.SourceRowsAsync(server, env.Source, Jan1, new DateOnly(2024, 1, 31));
        var today = await SqlKit.SourceRowsAsync(server, env.Source, SqlKit.Today(server));
        Assert.Equal(93L, january);
        await using var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        Assert.Equal(january + today, await ro.ScalarAsync<long>($"SELECT count(*) FROM {tenant}.foodlogstats"));
        Assert.Equal(3L, await ro.ScalarAsync<long>($"SELECT count(*) FROM {tenant}.foodlogstats_2024_01_15"));
        Assert.Equal(32L, await ro.ScalarAsync<long>($"SELECT count(*) FROM pg_matviews WHERE schemaname = '{tenant}'"));

        // Step 5 (as postgres), with a second tenant to union: the view stays whadmin's and readable by phood_ro.
        await wh.ExecAsync($"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{other}', '2024-01-02')");
        var unionSql = await postgres.ColumnAsync(
            "SELECT format('SELECT * FROM %I.foodlogstats', schema_name) FROM _wh.tenants WHERE to_regclass(format('%I.foodlogstats', schema_name)) IS NOT NULL ORDER BY 1");
        await postgres.ExecAsync("CREATE OR REPLACE VIEW public.foodlogstats AS\n" + string.Join("\nUNION ALL\n", unionSql));
        await postgres.ExecAsync("GRANT SELECT ON public.foodlogstats TO phood_ro");
        await postgres.ExecAsync("GRANT SELECT ON public.foodlogstats TO whadmin");
        Assert.Equal("whadmin", await postgres.ScalarAsync<string>("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'public.foodlogstats'::regclass"));
        Assert.Equal(january + today + 3, await ro.ScalarAsync<long>(
            "SELECT count(*) FROM public.foodlogstats WHERE client IN ($1, $2)", tenant, other));
    }

    [Fact]
    public async Task Troubleshooting_queries_1_to_4_as_whadmin()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("trouble");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync($"SELECT _wh.update_mv_window_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-14', '2024-01-16')");

        // 1. Connection details (no password at rest) and a manual dblink test.
        var row = (await wh.RowsAsync($"SELECT * FROM _wh.tenant_connections WHERE tenant_name = '{env.Connection}'")).Single();
        Assert.Contains(env.Source.Database, row);
        Assert.DoesNotContain(PostgresServer.SourceReaderPassword, row);
        Assert.Equal(1, await wh.ScalarAsync<int>(
            $"SELECT * FROM dblink(_wh.get_tenant_connection_string('{env.Connection}'), 'SELECT 1') AS t(test integer)"));

        // 2. Does it exist; list.
        Assert.True(await wh.ScalarAsync<bool>($"SELECT _wh.does_mv_exist('{schema}', 'foodlogstats_2024_01_15')"));
        Assert.False(await wh.ScalarAsync<bool>($"SELECT _wh.does_mv_exist('{schema}', 'foodlogstats_2024_01_17')"));
        Assert.Equal(3, (await wh.ColumnAsync($"SELECT matviewname FROM pg_matviews WHERE schemaname = '{schema}'")).Count);

        // 3. Sizes, and the source's count for the day equals the view's.
        var sizes = await wh.RowsAsync(
            $"""
             SELECT schemaname, matviewname, pg_size_pretty(pg_total_relation_size(schemaname||'.'||matviewname)) as size
             FROM pg_matviews WHERE schemaname = '{schema}' ORDER BY matviewname
             """);
        Assert.Equal(3, sizes.Count);
        var sourceCount = await wh.ScalarAsync<long>(
            $"""
             SELECT * FROM dblink(_wh.get_tenant_connection_string('{env.Connection}'),
                 'SELECT COUNT(*) FROM phood_foodlogsum WHERE logged_time::DATE = ''2024-01-15''') AS t(count bigint)
             """);
        Assert.Equal(sourceCount, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_2024_01_15"));

        // 4. Which days the union view includes; recreate it.
        Assert.Equal(new[] { "foodlogstats_2024_01_14", "foodlogstats_2024_01_15", "foodlogstats_2024_01_16" }, await wh.ColumnAsync(
            $"SELECT matviewname FROM pg_matviews WHERE schemaname = '{schema}' AND matviewname LIKE 'foodlogstats_%' ORDER BY matviewname"));
        Assert.Equal($"{schema}.foodlogstats", await wh.ScalarAsync<string>(
            $"SELECT _wh.update_tenant_view('{env.Connection}', '{schema}', 'foodlogstats')"));
        Assert.Equal(9L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
    }

    [Fact]
    public async Task Recreating_a_single_view_the_guides_steps_work_without_a_definition_change_and_force_does_it()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("single");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync($"SELECT _wh.update_mv_window_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-14', '2024-01-16')");

        // Step 1: since 2.1.0 no view depends on a day: the tenant view reads two tables (<template>_recent holds a copy
        // of the daily materialized views' rows), so that routine work never changes a view definition (issue 18).
        var dependents = await wh.ColumnAsync(
            "SELECT schemaname || '.' || viewname FROM pg_views WHERE definition LIKE '%foodlogstats_2024_01_15%'");
        Assert.DoesNotContain($"{schema}.foodlogstats", dependents);
        Assert.True(await wh.ScalarAsync<bool>($"SELECT _wh.view_references('{schema}', 'foodlogstats', '{schema}', 'foodlogstats_recent')"));

        // Step 2 as written: the tenant view is still refused (the public view depends on it); the day's drop now works,
        // and the tenant view keeps the day's rows (never a missing day for BI) until step 4 loads it again.
        await wh.FailsAsync($"DROP VIEW IF EXISTS {schema}.foodlogstats", ["2BP01"]);
        await wh.ExecAsync($"DROP MATERIALIZED VIEW {schema}.foodlogstats_2024_01_15");
        Assert.Equal(9L, await wh.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));
        Assert.Equal("created", await wh.ScalarAsync<string>(
            $"SELECT _wh.update_foodlogstats('{env.Connection}', '{schema}', '2024-01-15'::date)->>'action'"));
        // Step 5 changes no definition: nothing is re-created when it is unchanged.
        var definition = await wh.ScalarAsync<string>($"SELECT pg_get_viewdef('{schema}.foodlogstats'::regclass)");
        var xmin = await wh.ScalarAsync<string>($"SELECT xmin::text FROM pg_class WHERE oid = '{schema}.foodlogstats'::regclass");
        await wh.ExecAsync($"SELECT _wh.update_tenant_view('{env.Connection}', '{schema}', 'foodlogstats')");
        Assert.Equal(definition, await wh.ScalarAsync<string>($"SELECT pg_get_viewdef('{schema}.foodlogstats'::regclass)"));
        Assert.Equal(xmin, await wh.ScalarAsync<string>($"SELECT xmin::text FROM pg_class WHERE oid = '{schema}.foodlogstats'::regclass"));
        Assert.Equal(9L, await wh.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));

        // A day dropped by hand and never loaded again leaves the tenant view at its next rebuild.
        await wh.ExecAsync($"DROP MATERIALIZED VIEW {schema}.foodlogstats_2024_01_16");
        await wh.ExecAsync($"SELECT _wh.update_tenant_view('{env.Connection}', '{schema}', 'foodlogstats')");
        Assert.Equal(6L, await wh.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));
        await wh.ExecAsync($"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-16')");

        // The documented way: one call.
        Assert.Equal("recreated", await wh.ScalarAsync<string>(
            $"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-15', force => true)->>'action'"));
        Assert.Equal(9L, await wh.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));
    }

    [Fact]
    public async Task Recreating_a_tenant_dataset_force_window_or_the_guides_drops_with_cascade_then_rebuild()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("dataset");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync($"SELECT _wh.update_mv_window_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-01', '2024-01-04')");
        Assert.Equal(4, (await wh.ColumnAsync($"SELECT matviewname FROM pg_matviews WHERE schemaname = '{schema}' ORDER BY matviewname")).Count);

        // The documented way: a forced window.
        var forced = await wh.ScalarAsync<string>(
            $"SELECT _wh.update_mv_window_by_template('foodlogstats', '{env.Connection}', '{schema}', '2024-01-01', '2024-01-04', force => true)::text");
        Assert.Contains("\"recreated\": 4", forced);

        // Step 2 as written fails safely; a DBA who adds CASCADE loses the public view until the rebuild brings it back.
        await wh.FailsAsync($"DROP VIEW IF EXISTS {schema}.foodlogstats", ["2BP01"]);
        await wh.ExecAsync($"DROP VIEW IF EXISTS {schema}.foodlogstats CASCADE");
        await wh.ExecAsync(
            $"""
             DO $$
             DECLARE
                 mv_name TEXT;
             BEGIN
                 FOR mv_name IN
                     SELECT matviewname
                     FROM pg_matviews
                     WHERE schemaname = '{schema}'
                 LOOP
                     EXECUTE 'DROP MATERIALIZED VIEW {schema}.' || mv_name;
                 END LOOP;
             END $$;
             """);
        Assert.False(await wh.ScalarAsync<bool>("SELECT to_regclass('public.foodlogstats') IS NOT NULL"));

        // Step 3 as written (legacy names, default update function).
        var rebuilt = await wh.ScalarAsync<string>(
            $"SELECT _wh.update_mv_window('{env.Connection}', '{schema}', '2024-01-01'::date, '2024-01-04'::date)::text");
        Assert.Contains("\"created\": 4", rebuilt);
        await wh.ExecAsync($"SELECT _wh.update_tenant_view('{env.Connection}', '{schema}', 'foodlogstats')");

        await using var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        Assert.Equal(12L, await ro.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        Assert.Equal(12L, await ro.ScalarAsync<long>($"SELECT count(*) FROM public.foodlogstats WHERE client = '{schema}'"));
    }
}
