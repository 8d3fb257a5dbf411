namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Storage of closed days (docs/architecture.md): past compact_after_days closed daily materialized views, a tenant's
/// closed days live in one table &lt;template&gt;_closed, every daily name stays a queryable view with the same rows, the
/// tenant and public views read the table, and force, retention, re-runs, the catalog and phood_ro keep their meaning.
/// The class's warehouse uses compact_after_days = 3 so that a few days are enough.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ClosedDayCompactionTests(PostgresServer server)
{
    private const int Days = 12;
    private const int Rows = 20;
    private static readonly Once<SharedWarehouse> Shared = new();

    private async Task<SharedWarehouse> EnvAsync() => await Shared.Get(async () =>
    {
        var env = await SharedWarehouse.CreateAsync(server, days: Days, rowsPerDay: Rows);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '3' WHERE key = 'compact_after_days'");
        return env;
    });

    private DateOnly Day(int offset) => SqlKit.Today(server).AddDays(offset);
    private static string View(DateOnly day) => SqlKit.ViewName("foodlogstats", day);
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private static Task<string> WindowAsync(NpgsqlConnection wh, SharedWarehouse env, string schema, DateOnly from, DateOnly to, bool force = false) =>
        wh.ScalarAsync<string>("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4, force => $5)::text",
            env.Connection, schema, from, to, force);

    /// <summary>Every declared column of every row of a relation (the client column is checked on its own).</summary>
    private static Task<string> RowsOfAsync(NpgsqlConnection db, string relation, string where = "true") =>
        RowFingerprint.OfWarehouseAsync(db, "foodlogstats", relation, where);

    private static async Task<Dictionary<string, string>> KindsAsync(NpgsqlConnection db, string schema) =>
        (await db.RowsAsync("SELECT c.relname::text, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm')", schema))
        .ToDictionary(r => (string)r[0]!, r => (string)r[1]!);

    [Fact]
    public async Task A_long_window_loads_closed_days_into_one_table_and_every_daily_name_keeps_its_rows()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_win");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var summary = Json(await WindowAsync(wh, env, schema, Day(-(Days - 1)), Day(0)));
        Assert.Equal(Days, summary.GetProperty("created").GetInt32());
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());

        var kinds = await KindsAsync(wh, schema);
        Assert.Equal("r", kinds["foodlogstats_closed"]);
        Assert.Equal("v", kinds["foodlogstats"]);
        for (var offset = 0; offset < Days; offset++)
            Assert.Equal(offset <= 1 ? "m" : "v", kinds[View(Day(-offset))]);
        Assert.Equal("r", kinds["foodlogstats_recent"]);
        Assert.Equal(Days + 3, kinds.Count); // days, the two tables, the tenant view: nothing else (no temporary leftovers)

        await using var source = await SqlKit.OpenAsync(server, env.Source.Database);
        for (var offset = 0; offset < Days; offset++)
        {
            var day = Day(-offset);
            Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.does_mv_exist($1, $2)", schema, View(day)));
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, day, day),
                await RowsOfAsync(wh, $"{schema}.{View(day)}"));
            Assert.Equal(schema, await wh.ScalarAsync<string>($"SELECT DISTINCT client FROM {schema}.{View(day)}"));
        }
        Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, Day(-(Days - 1)), Day(0)),
            await RowsOfAsync(wh, $"{schema}.foodlogstats"));
        Assert.Equal((long)Days * Rows, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.view_references($1, 'foodlogstats', $1, 'foodlogstats_closed')", schema));

        // A re-run does only what is missing: closed days skipped, today and yesterday refreshed.
        var again = Json(await WindowAsync(wh, env, schema, Day(-(Days - 1)), Day(0)));
        Assert.Equal(0, again.GetProperty("created").GetInt32());
        Assert.Equal(Days - 2, again.GetProperty("skipped").GetInt32());
        Assert.Equal(2, again.GetProperty("refreshed").GetInt32());
        Assert.Equal((long)(Days - 2) * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
        Assert.Equal((long)Days * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
    }

    [Fact]
    public async Task Daily_materialized_views_are_compacted_past_the_threshold_by_update_mv_by_template_and_on_request()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_auto");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        // Three closed days one at a time (as pg_cron or psql would): at the threshold, still materialized views.
        foreach (var offset in new[] { 9, 8, 7 })
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)", env.Connection, schema, Day(-offset));
        Assert.Equal(3, (await KindsAsync(wh, schema)).Values.Count(k => k == "m"));
        var before = await RowsOfAsync(wh, $"{schema}.foodlogstats");

        // The fourth closed day crosses it: all four move into the table in the same call.
        var fourth = Json(await wh.ScalarAsync<string>("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)::text", env.Connection, schema, Day(-6)));
        Assert.Equal("created", fourth.GetProperty("action").GetString());
        Assert.Equal(Rows, fourth.GetProperty("rows").GetInt64());
        var kinds = await KindsAsync(wh, schema);
        Assert.Equal(0, kinds.Values.Count(k => k == "m"));
        Assert.Equal(4, kinds.Keys.Count(k => k.StartsWith("foodlogstats_2", StringComparison.Ordinal) && kinds[k] == "v"));
        Assert.Equal((long)4 * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        Assert.Equal(before, await RowsOfAsync(wh, $"{schema}.foodlogstats", $"logged_time < '{Day(-6):yyyy-MM-dd}'"));
        await using (var source = await SqlKit.OpenAsync(server, env.Source.Database))
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, Day(-9), Day(-6)),
                await RowsOfAsync(wh, $"{schema}.foodlogstats"));

        // Today stays a materialized view; an explicit call (psql) with nothing closed left does nothing.
        await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)", env.Connection, schema, Day(0));
        Assert.Equal("m", (await KindsAsync(wh, schema))[View(Day(0))]);
        var explicitRun = Json(await wh.ScalarAsync<string>("SELECT _wh.compact_closed_days('foodlogstats', $1)::text", schema));
        Assert.Equal(0, explicitRun.GetProperty("compacted").GetInt32());

        // Below the threshold nothing moves unless asked; asked, every closed day moves.
        var small = PostgresServer.UniqueName("cmp_ask");
        await WindowAsync(wh, env, small, Day(-3), Day(0));
        Assert.Equal(4, (await KindsAsync(wh, small)).Values.Count(k => k == "m"));
        var smallBefore = await RowsOfAsync(wh, $"{small}.foodlogstats");
        var asked = Json(await wh.ScalarAsync<string>("SELECT _wh.compact_closed_days('foodlogstats', $1)::text", small));
        Assert.Equal(2, asked.GetProperty("compacted").GetInt32());
        Assert.Equal(smallBefore, await RowsOfAsync(wh, $"{small}.foodlogstats"));
        Assert.Equal(2, (await KindsAsync(wh, small)).Values.Count(k => k == "m"));
    }

    [Fact]
    public async Task Force_recreates_a_compacted_day_in_one_transaction_and_retention_drops_its_view_and_rows()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_force");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await WindowAsync(wh, env, schema, Day(-9), Day(0));
        var target = Day(-5);
        Assert.Equal("v", (await KindsAsync(wh, schema))[View(target)]);
        var otherDays = await RowsOfAsync(wh, $"{schema}.foodlogstats", $"logged_time::date <> '{target:yyyy-MM-dd}'");

        // A reader inside a snapshot taken before the re-creation keeps the old rows; a new reader sees the new ones.
        await using var reader = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        await reader.ExecAsync("BEGIN ISOLATION LEVEL REPEATABLE READ");
        Assert.Equal((long)Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{View(target)}"));
        await SqlKit.AddSourceRowsAsync(server, env.Source, target, 7);
        try
        {
            var forced = Json(await wh.ScalarAsync<string>(
                "SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, force => true)::text", env.Connection, schema, target));
            Assert.Equal("recreated", forced.GetProperty("action").GetString());
            Assert.Equal(Rows + 7L, forced.GetProperty("rows").GetInt64());
            Assert.Equal((long)Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{View(target)}"));
            await reader.ExecAsync("COMMIT");
            Assert.Equal(Rows + 7L, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{View(target)}"));
            Assert.Equal(Rows + 7L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats WHERE logged_time::date = $1", target));
            await using (var source = await SqlKit.OpenAsync(server, env.Source.Database))
                Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, target, target),
                    await RowsOfAsync(wh, $"{schema}.{View(target)}"));
            Assert.Equal(otherDays, await RowsOfAsync(wh, $"{schema}.foodlogstats", $"logged_time::date <> '{target:yyyy-MM-dd}'"));
            Assert.Equal("v", (await KindsAsync(wh, schema))[View(target)]);
        }
        finally
        {
            await using var src = await SqlKit.OpenAsync(server, env.Source.Database);
            await src.ExecAsync("DELETE FROM phood_foodlogsum WHERE id > (SELECT max(id) FROM phood_foodlogsum) - 7");
        }

        // Retention over two compacted days and today's materialized view: views gone, rows gone, the rest untouched.
        var dropped = Json(await wh.ScalarAsync<string>(
            "SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, $2, $3)::text", schema, Day(-9), Day(-8)));
        Assert.Equal(2, dropped.GetProperty("count").GetInt32());
        var kinds = await KindsAsync(wh, schema);
        Assert.False(kinds.ContainsKey(View(Day(-9))));
        Assert.False(kinds.ContainsKey(View(Day(-8))));
        Assert.False(await wh.ScalarAsync<bool>("SELECT _wh.does_mv_exist($1, $2)", schema, View(Day(-9))));
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed WHERE _wh_day <= $1", Day(-8)));
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats WHERE logged_time < $1", Day(-7)));
        Assert.Equal(2L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'dropped'", schema));
        await wh.ExecAsync("SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, $2, NULL)", schema, Day(0));
        Assert.False((await KindsAsync(wh, schema)).ContainsKey(View(Day(0))));
        Assert.Equal(7L * Rows + 7, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));

        // A re-run loads exactly the missing days again (into the table, since it exists).
        var rerun = Json(await WindowAsync(wh, env, schema, Day(-9), Day(0)));
        Assert.Equal(3, rerun.GetProperty("created").GetInt32());
        Assert.Equal(10L * Rows + 7, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        Assert.Equal("v", (await KindsAsync(wh, schema))[View(Day(-9))]);
    }

    [Fact]
    public async Task A_new_day_for_today_moves_closed_materialized_views_into_an_existing_table_as_pg_cron_would()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_cron");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await WindowAsync(wh, env, schema, Day(-9), Day(0));
        // A closed day that is still a materialized view while the table exists (what yesterday becomes at midnight):
        // the guide's create function always builds a materialized view.
        await wh.ExecAsync("SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, $2, $2)", schema, Day(-4));
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.create_mv_from_template('foodlogstats', $1, $2, $3)", env.Connection, schema, Day(-4)));
        Assert.Equal("m", (await KindsAsync(wh, schema))[View(Day(-4))]);

        // pg_cron's call for today (here: today again after retention dropped it) compacts it.
        await wh.ExecAsync("SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, $2, NULL)", schema, Day(0));
        var today = Json(await wh.ScalarAsync<string>("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE)::text", env.Connection, schema));
        Assert.Equal("created", today.GetProperty("action").GetString());
        var kinds = await KindsAsync(wh, schema);
        Assert.Equal("v", kinds[View(Day(-4))]);
        Assert.Equal("m", kinds[View(Day(0))]);
        Assert.Equal((long)Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{View(Day(-4))}"));
        Assert.Equal(10L * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        Assert.Equal(10L * Rows, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
    }

    [Fact]
    public async Task Remove_WhTemplate_with_force_drops_the_day_views_and_the_compacted_table()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_tpl");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync(
            """
            INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
            SELECT 'foodlog_copy', description, query_template, column_definitions, indexes FROM _wh.mv_templates WHERE template_name = 'foodlogstats'
            """);
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlog_copy', $1, $2, $3, $4)", env.Connection, schema, Day(-9), Day(0));
        Assert.Equal("r", (await KindsAsync(wh, schema))["foodlog_copy_closed"]);

        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        await new PhoodWarehouse.Core.Templates.TemplateStore(connection, NullLogger.Instance).RemoveAsync("foodlog_copy", true, default);
        Assert.DoesNotContain(await KindsAsync(wh, schema), k => k.Key.StartsWith("foodlog_copy", StringComparison.Ordinal));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.mv_templates WHERE template_name = 'foodlog_copy'"));
    }

    [Fact]
    public async Task Phood_ro_reads_the_table_the_day_views_and_the_union_views_and_the_module_sees_every_day()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_ro");
        await using (var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin"))
            await WindowAsync(wh, env, schema, Day(-(Days - 1)), Day(0));

        await using (var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro"))
        {
            Assert.Equal((long)(Days - 2) * Rows, await ro.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
            Assert.Equal((long)Rows, await ro.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{View(Day(-4))}"));
            Assert.Equal((long)Days * Rows, await ro.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
            Assert.Equal((long)Days * Rows, await ro.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
            await ro.FailsAsync("SELECT * FROM _wh.warehouse_info", ["42501"]);
            await ro.FailsAsync($"DELETE FROM {schema}.foodlogstats_closed", ["42501"]);
        }

        // The module: Get-WhMv lists every day (compacted ones with the logged row count and no size of their own),
        // freshness sees no gap, and a backfill over the same range has nothing to do.
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        var views = await new DailyViewCatalog(connection, NullLogger.Instance).ListAsync(
            new DailyViewQuery { Tenants = [new NamePattern(schema)] }, default);
        Assert.Equal(Days, views.Count);
        Assert.All(views, v => Assert.Equal((long)Rows, v.Rows));
        Assert.All(views.Where(v => v.Date < SqlKit.Today(server).AddDays(-1).ToDateTime(TimeOnly.MinValue)), v => Assert.Null(v.SizeBytes));
        Assert.All(views.Where(v => v.Date >= SqlKit.Today(server).AddDays(-1).ToDateTime(TimeOnly.MinValue)), v => Assert.NotNull(v.SizeBytes));
        var freshness = Assert.Single(await new DailyViewCatalog(connection, NullLogger.Instance).FreshnessAsync([new NamePattern(schema)], [], Days, default));
        Assert.Equal(Days, freshness.DailyViewCount);
        Assert.Empty(freshness.MissingDates);

        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var plan = await runner.PlanAsync(new BackfillRequest
        {
            Tenants = [schema], Templates = ["foodlogstats"], From = Day(-(Days - 1)), To = Day(0),
        }, default);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(plan, default)) results.Add(result);
        Assert.Equal(Days - 2, results.Count(r => r.Action == MvAction.Skipped));
        Assert.Equal(2, results.Count(r => r.Action == MvAction.Refreshed));
        Assert.DoesNotContain(results, r => r.Action is MvAction.Created or MvAction.Failed);
    }

    [Fact]
    public async Task The_module_backfill_creates_the_table_first_and_loads_closed_days_straight_into_it()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("cmp_bf");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_tenant_union_view_by_template('foodlogstats', $1, $2)", env.Connection, schema);
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var plan = await runner.PlanAsync(new BackfillRequest
        {
            Tenants = [schema], Templates = ["foodlogstats"], From = Day(-(Days - 1)), To = Day(0), ThrottleLimit = 3,
        }, default);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(plan, default)) results.Add(result);
        Assert.Equal(Days, results.Count(r => r.Action == MvAction.Created));
        Assert.All(results, r => Assert.Equal((long)Rows, r.Rows));

        // No closed day ever became a materialized view (the run log would show a compaction otherwise: nothing to see
        // there, so check the catalog): the table holds them, and was analyzed at the end.
        var kinds = await KindsAsync(wh, schema);
        Assert.Equal(2, kinds.Values.Count(k => k == "m"));
        Assert.Equal((long)(Days - 2) * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
        Assert.True(await wh.ScalarAsync<bool>(
            "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_all_tables WHERE schemaname = $1 AND relname = 'foodlogstats_closed'", schema));
        Assert.Equal((long)Days * Rows, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
    }

    /// <summary>The template's indexes of a days table (everything but its BRIN on _wh_day).</summary>
    private static Task<long> TemplateIndexesAsync(NpgsqlConnection db, string schema, string table) => IndexesAsync(db, schema, table, brin: false);

    /// <summary>The BRIN indexes of a days table (its one on _wh_day, or none yet).</summary>
    private static Task<long> BrinIndexesAsync(NpgsqlConnection db, string schema, string table) => IndexesAsync(db, schema, table, brin: true);

    private static Task<long> IndexesAsync(NpgsqlConnection db, string schema, string table, bool brin) => db.ScalarAsync<long>("""
        SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_am a ON a.oid = x.relam
        WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass AND (a.amname = 'brin') = $3
        """, schema, table, brin);

    [Fact]
    public async Task A_first_window_builds_the_tables_indexes_once_its_rows_are_in_and_an_unfinished_one_leaves_them_to_the_next_call()
    {
        var env = await EnvAsync();
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var declared = await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.parse_index_definitions((SELECT indexes FROM _wh.mv_templates WHERE template_name = 'foodlogstats'))");
        Assert.True(declared > 0);
        var (from, to) = (Day(-(Days - 1)), Day(-2));

        foreach (var finishedBy in new[] { "finish_window", "a later call" })
        {
            var schema = PostgresServer.UniqueName("cmp_idx");
            // The window's start makes the table, bare: its days are about to arrive.
            await wh.ExecAsync("SELECT _wh.check_window('foodlogstats', $1, $2, $3, $4)", env.Connection, schema, from, to);
            Assert.Equal(0L, await TemplateIndexesAsync(wh, schema, "foodlogstats_closed"));
            Assert.Equal(0L, await BrinIndexesAsync(wh, schema, "foodlogstats_closed")); // not kept row by row either
            for (var day = from; day <= to; day = day.AddDays(1))
                await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, rebuild_views => false)", env.Connection, schema, day);
            Assert.Equal((long)(Days - 2) * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
            Assert.Equal(0L, await TemplateIndexesAsync(wh, schema, "foodlogstats_closed"));
            // Yesterday and today (materialized views, whose creation compacts when due) in a window that its caller
            // finishes: still not built, so that the window's end builds and analyzes them once (a backfill's last day
            // built them, and its end analyzed the table again: docs/performance.md, row c).
            foreach (var recent in new[] { Day(-1), Day(0) })
                await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, rebuild_views => false)", env.Connection, schema, recent);
            Assert.Equal("m", await wh.ScalarAsync<string>("SELECT _wh.daily_relkind($1, _wh.create_mv_name('foodlogstats', $2))::text", schema, Day(-1)));
            Assert.Equal(0L, await TemplateIndexesAsync(wh, schema, "foodlogstats_closed"));

            if (finishedBy == "finish_window")
                await wh.ExecAsync("SELECT _wh.finish_window('foodlogstats', $1, $2, _wh.empty_summary() || jsonb_build_object('created', $3::int))",
                    schema, Day(0), Days);
            else // the window never ended (a crash, a cancelled psql): the next call of the day path or of a job builds them
                await wh.ExecAsync("SELECT _wh.compact_closed_days('foodlogstats', $1, true, false)", schema);
            Assert.Equal(declared, await TemplateIndexesAsync(wh, schema, "foodlogstats_closed"));
            Assert.Equal(1L, await BrinIndexesAsync(wh, schema, "foodlogstats_closed"));
            Assert.True(await wh.ScalarAsync<bool>(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_all_tables WHERE schemaname = $1 AND relname = 'foodlogstats_closed'", schema));
            // Once built, not again: a second call builds nothing.
            Assert.Equal(0, await wh.ScalarAsync<int>("SELECT _wh.ensure_days_indexes('foodlogstats', $1, 'foodlogstats_closed')", schema));
            Assert.Equal(declared, await TemplateIndexesAsync(wh, schema, "foodlogstats_closed"));
            Assert.Equal(1L, await BrinIndexesAsync(wh, schema, "foodlogstats_closed"));
        }
    }
}
