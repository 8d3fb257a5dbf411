using PhoodWarehouse.Tests.Reliability;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// update_mv_by_template and its windows: absent → created, today/yesterday → refreshed, older → skipped, force →
/// recreated under readers; a failing day in a window; the COMMIT-per-day procedure; a pg_cron-style call.
/// One warehouse and one 8-day source (ending today) are shared; every test uses its own tenant schema.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DailyViewSemanticsTests(PostgresServer server)
{
    private static readonly Once<SharedWarehouse> Shared = new();
    private Task<SharedWarehouse> EnvAsync() => Shared.Get(() => SharedWarehouse.CreateAsync(server, days: 8, rowsPerDay: 20));

    private DateOnly Day(int offset) => SqlKit.Today(server).AddDays(offset);

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private static async Task<JsonElement> UpdateAsync(NpgsqlConnection wh, string conn, string schema, DateOnly day,
        bool allowYesterday = true, bool force = false) =>
        Json(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, allow_refresh_yesterday => $4, force => $5)::text",
            conn, schema, day, allowYesterday, force));

    private async Task<long> ViewRowsAsync(NpgsqlConnection db, string relation) =>
        await db.ScalarAsync<long>($"SELECT count(*) FROM {relation}");

    [Fact]
    public async Task Absent_is_created_today_and_yesterday_are_refreshed_older_is_skipped_with_exact_row_counts()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("sem_a");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var days = new[] { Day(0), Day(-1), Day(-3) };

        foreach (var day in days)
        {
            var created = await UpdateAsync(wh, env.Connection, schema, day);
            Assert.Equal("created", created.GetProperty("action").GetString());
            Assert.Equal($"{schema}.{SqlKit.ViewName("foodlogstats", day)}", created.GetProperty("view").GetString());
            Assert.Equal(await SqlKit.SourceRowsAsync(server, env.Source, day), created.GetProperty("rows").GetInt64());
            Assert.Equal(day.ToString("yyyy-MM-dd"), created.GetProperty("date").GetString());
            Assert.Equal(env.Connection, created.GetProperty("connection").GetString());
            Assert.Equal("foodlogstats", created.GetProperty("template").GetString());
            Assert.True(created.GetProperty("duration_ms").GetDouble() >= 0);
            Assert.Equal(20L, await ViewRowsAsync(wh, $"{schema}.{SqlKit.ViewName("foodlogstats", day)}"));
        }

        Assert.Equal("refreshed", (await UpdateAsync(wh, env.Connection, schema, Day(0))).GetProperty("action").GetString());
        Assert.Equal("refreshed", (await UpdateAsync(wh, env.Connection, schema, Day(-1))).GetProperty("action").GetString());
        Assert.Equal("skipped", (await UpdateAsync(wh, env.Connection, schema, Day(-1), allowYesterday: false)).GetProperty("action").GetString());
        Assert.Equal("skipped", (await UpdateAsync(wh, env.Connection, schema, Day(-3))).GetProperty("action").GetString());

        // Tenant and public views hold exactly the three days.
        Assert.Equal(60L, await ViewRowsAsync(wh, $"{schema}.foodlogstats"));
        Assert.Equal(60L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));

        // The daily view has the contract's columns, in order, and the template's three indexes (one unique on id).
        var columns = await wh.ColumnAsync(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum",
            $"{schema}.{SqlKit.ViewName("foodlogstats", Day(-3))}");
        Assert.Equal(new[]
        {
            "id bigint", "logged_time timestamp without time zone", "location text", "station text", "food_name text",
            "waste_reason text", "meal_period text", "weight numeric", "cost numeric", "client text",
        }, columns);
        var indexes = await wh.ColumnAsync(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1",
            $"{schema}.{SqlKit.ViewName("foodlogstats", Day(-3))}");
        Assert.Equal(3, indexes.Count);
        Assert.Contains(indexes, i => i.StartsWith("CREATE UNIQUE INDEX") && i.EndsWith("(id)"));
        Assert.Contains(indexes, i => i.EndsWith("(logged_time)"));
        Assert.Contains(indexes, i => i.EndsWith("(client)"));

        // Run log: one row per call, with who and what.
        var log = await wh.ColumnAsync(
            "SELECT action || ' ' || target_date || ' ' || run_by || ' ' || row_count FROM _wh.run_log WHERE tenant_schema = $1 ORDER BY id", schema);
        Assert.Equal(7, log.Count);
        Assert.Equal(3, log.Count(l => l.StartsWith("created") && l.Contains(" whadmin 20")));
        Assert.Equal(2, log.Count(l => l.StartsWith("refreshed")));
        Assert.Equal(2, log.Count(l => l.StartsWith("skipped")));

        // A future date is refused and changes nothing.
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database));
        var future = await wh.FailsAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE + 1)", ["22023"],
            env.Connection, schema);
        Assert.Contains("future", future.MessageText);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database)));
    }

    [Fact]
    public async Task Refreshing_today_picks_up_new_source_rows_concurrently_while_a_reader_holds_the_view()
    {
        var env = await EnvAsync();
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 10);
        var conn = PostgresServer.UniqueName("live");
        var schema = PostgresServer.UniqueName("sem_live");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.AddConnectionAsync(conn, source);
        await UpdateAsync(wh, conn, schema, Day(0));

        await SqlKit.AddSourceRowsAsync(server, source, Day(0), 3);
        await using var reader = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        await using var readTx = await reader.BeginTransactionAsync();
        Assert.Equal(10L, await ViewRowsAsync(reader, $"{schema}.{SqlKit.ViewName("foodlogstats", Day(0))}"));

        // A plain REFRESH would wait for the reader's ACCESS SHARE lock; CONCURRENTLY does not.
        await wh.ExecAsync("SET lock_timeout = '3s'");
        var refreshed = await UpdateAsync(wh, conn, schema, Day(0));
        Assert.Equal("refreshed", refreshed.GetProperty("action").GetString());
        Assert.Equal(13L, refreshed.GetProperty("rows").GetInt64());
        await readTx.CommitAsync();

        Assert.Equal(await SqlKit.SourceRowsAsync(server, source, Day(0)), await ViewRowsAsync(reader, $"{schema}.foodlogstats"));
        Assert.Equal(13L, await reader.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
    }

    [Fact]
    public async Task A_pg_cron_style_call_for_today_leaves_tenant_and_public_views_with_todays_rows()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("sem_cron");
        await using (var cron = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "pg_cron"))
            await cron.ExecAsync($"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{schema}', CURRENT_DATE)");

        var today = await SqlKit.SourceRowsAsync(server, env.Source, Day(0));
        Assert.True(today > 0);
        await using var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        Assert.Equal(today, await ViewRowsAsync(ro, $"{schema}.foodlogstats"));
        Assert.Equal(today, await ro.ScalarAsync<long>(
            "SELECT count(*) FROM public.foodlogstats WHERE client = $1 AND logged_time >= CURRENT_DATE", schema));

        await using var su = await SqlKit.OpenAsync(server, env.Database);
        Assert.Equal("created whadmin pg_cron", await su.ScalarAsync<string>(
            "SELECT action || ' ' || run_by || ' ' || application_name FROM _wh.run_log WHERE tenant_schema = $1", schema));
    }

    [Fact]
    public async Task Force_recreates_a_day_while_readers_always_see_every_row_and_the_union_views_keep_their_identity()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("sem_force");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        foreach (var offset in new[] { -6, -5, -4 }) await UpdateAsync(wh, env.Connection, schema, Day(offset));
        var target = $"{schema}.{SqlKit.ViewName("foodlogstats", Day(-5))}";
        const string OidsSql = "SELECT $1::regclass::oid::bigint, $2::regclass::oid::bigint, 'public.foodlogstats'::regclass::oid::bigint";
        var oidsBefore = (await wh.RowsAsync(OidsSql, target, $"{schema}.foodlogstats"))[0];

        // Three readers' queries of the views: every row, always.
        async Task AssertEveryRowAsync(NpgsqlConnection ro)
        {
            Assert.Equal(60L, await ViewRowsAsync(ro, $"{schema}.foodlogstats"));
            Assert.Equal(60L, await ro.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
            Assert.Equal(20L, await ViewRowsAsync(ro, target));
        }
        // The overlap, forced: a BI transaction holds the views while the swap comes (the swap waits for it: pg_locks),
        // a second reader arrives while the swap waits, and both see every row before and after it.
        await using (var holding = await SqlKit.OpenAsync(server, env.Database, "phood_ro"))
        await using (var arriving = await SqlKit.OpenAsync(server, env.Database, "phood_ro"))
        await using (var watcher = await SqlKit.OpenAsync(server, env.Database))
        {
            var swapper = await wh.ScalarAsync<int>("SELECT pg_backend_pid()");
            var holder = await holding.ScalarAsync<int>("SELECT pg_backend_pid()");
            var arriver = await arriving.ScalarAsync<int>("SELECT pg_backend_pid()");
            await using var transaction = await holding.BeginTransactionAsync();
            await AssertEveryRowAsync(holding);
            var swap = UpdateAsync(wh, env.Connection, schema, Day(-5), force: true);
            await SourceFaultTests.WaitUntilAsync(async () =>
                swap.IsCompleted || await watcher.ScalarAsync<bool>("SELECT $1 = ANY (pg_blocking_pids($2))", holder, swapper));
            Assert.False(swap.IsCompleted, "the swap did not wait for the reader that holds the day");
            var late = AssertEveryRowAsync(arriving);
            await SourceFaultTests.WaitUntilAsync(async () =>
                late.IsCompleted || await watcher.ScalarAsync<bool>("SELECT cardinality(pg_blocking_pids($1)) > 0", arriver));
            await AssertEveryRowAsync(holding);
            await transaction.CommitAsync();
            Assert.Equal("recreated", (await swap).GetProperty("action").GetString());
            await late;
            await AssertEveryRowAsync(arriving);
        }
        for (var i = 0; i < 2; i++)
            Assert.Equal("recreated", (await UpdateAsync(wh, env.Connection, schema, Day(-5), force: true)).GetProperty("action").GetString());

        var oidsAfter = (await wh.RowsAsync(OidsSql, target, $"{schema}.foodlogstats"))[0];
        Assert.NotEqual(oidsBefore[0], oidsAfter[0]);
        Assert.Equal(oidsBefore[1], oidsAfter[1]);
        Assert.Equal(oidsBefore[2], oidsAfter[2]);

        // The swapped-in view has its own indexes under the day's name, no leftover temporary view, and phood_ro can read it.
        var indexNames = await wh.ColumnAsync("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass", target);
        Assert.Equal(3, indexNames.Count);
        Assert.All(indexNames, n => Assert.StartsWith($"{schema}.{SqlKit.ViewName("foodlogstats", Day(-5))}", n));
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE '\\_whnew\\_%'", schema));
        Assert.Equal(3L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'recreated'", schema));

        // force on an absent day simply creates it.
        Assert.Equal("created", (await UpdateAsync(wh, env.Connection, schema, Day(-3), force: true)).GetProperty("action").GetString());
    }

    [Fact]
    public async Task A_failing_day_in_a_window_keeps_the_others_is_logged_and_a_rerun_does_only_what_is_missing()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("sem_win");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await UpdateAsync(wh, env.Connection, schema, Day(-7));
        var blocked = SqlKit.ViewName("foodlogstats", Day(-5));
        await wh.ExecAsync($"CREATE TABLE {schema}.{blocked} (x int)");

        const string Window = "SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)::text";
        var first = Json(await wh.ScalarAsync<string>(Window, env.Connection, schema, Day(-7), Day(-3)));
        Assert.Equal(3, first.GetProperty("created").GetInt32());
        Assert.Equal(1, first.GetProperty("skipped").GetInt32());
        Assert.Equal(1, first.GetProperty("failed").GetInt32());
        var failure = Assert.Single(first.GetProperty("failures").EnumerateArray());
        Assert.Equal(Day(-5).ToString("yyyy-MM-dd"), failure.GetProperty("date").GetString());
        Assert.Contains(blocked, failure.GetProperty("error").GetString());

        Assert.Equal(blocked + " " + Day(-5).ToString("yyyy-MM-dd"), await wh.ScalarAsync<string>(
            "SELECT substring(error from $2) || ' ' || target_date FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'failed'", schema, blocked));
        Assert.Equal(80L, await ViewRowsAsync(wh, $"{schema}.foodlogstats"));
        Assert.Equal(80L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));

        await wh.ExecAsync($"DROP TABLE {schema}.{blocked}");
        var logBefore = await wh.ScalarAsync<long>("SELECT max(id) FROM _wh.run_log");
        var second = Json(await wh.ScalarAsync<string>(Window, env.Connection, schema, Day(-7), Day(-3)));
        Assert.Equal(1, second.GetProperty("created").GetInt32());
        Assert.Equal(4, second.GetProperty("skipped").GetInt32());
        Assert.Equal(0, second.GetProperty("failed").GetInt32());
        Assert.Equal(new[] { "created " + Day(-5).ToString("yyyy-MM-dd") }, await wh.ColumnAsync(
            "SELECT action || ' ' || target_date FROM _wh.run_log WHERE tenant_schema = $1 AND id > $2 AND action <> 'skipped'", schema, logBefore));
        Assert.Equal(await SqlKit.SourceRowsAsync(server, env.Source, Day(-7), Day(-3)), await ViewRowsAsync(wh, $"{schema}.foodlogstats"));

        // Invalid windows are refused before any day is touched.
        await wh.FailsAsync(Window, ["22023"], env.Connection, schema, Day(-3), Day(-7));
        await wh.FailsAsync(Window, ["22023"], env.Connection, schema, Day(-3), Day(1));
    }

    private static Task HoldDayLockAsync(NpgsqlConnection holder, string schema, DateOnly day) =>
        holder.ExecAsync("SELECT pg_advisory_xact_lock(hashtext('_wh.daily_view'), hashtext($1))",
            $"{schema}.{SqlKit.ViewName("foodlogstats", day)}");

    private static async Task WaitUntilBlockedAsync(NpgsqlConnection observer, int pid)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await observer.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pid)) return;
            await Task.Delay(50);
        }
        Assert.Fail("the window never reached the locked day");
    }

    private async Task<long> VisibleDaysAsync(NpgsqlConnection observer, string schema) =>
        await observer.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'm'", schema);

    [Fact]
    public async Task The_procedure_commits_every_day_while_the_function_commits_the_window_at_once()
    {
        var env = await EnvAsync();
        await using var observer = await SqlKit.OpenAsync(server, env.Database);
        foreach (var (call, committedWhileBlocked) in new[]
                 {
                     ("CALL _wh.run_mv_window_by_template('foodlogstats', $1, $2, $3, $4, summary => NULL)", 3L),
                     ("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)::text", 0L),
                 })
        {
            var schema = PostgresServer.UniqueName("sem_commit");
            await using var holder = await SqlKit.OpenAsync(server, env.Database, "whadmin");
            var hold = await holder.BeginTransactionAsync();
            await HoldDayLockAsync(holder, schema, Day(-4));

            await using var worker = await SqlKit.OpenAsync(server, env.Database, "whadmin");
            var run = worker.ScalarAsync<string>(call, env.Connection, schema, Day(-7), Day(-3));
            await WaitUntilBlockedAsync(observer, worker.ProcessID);
            Assert.Equal(committedWhileBlocked, await VisibleDaysAsync(observer, schema));
            await hold.CommitAsync();

            var summary = Json(await run);
            Assert.Equal(5, summary.GetProperty("created").GetInt32());
            Assert.Equal(0, summary.GetProperty("failed").GetInt32());
            Assert.Equal(5L, await VisibleDaysAsync(observer, schema));
            Assert.Equal(await SqlKit.SourceRowsAsync(server, env.Source, Day(-7), Day(-3)),
                await ViewRowsAsync(observer, $"{schema}.foodlogstats"));
            Assert.Equal(100L, await observer.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
        }
    }

    [Fact]
    public async Task Two_sessions_on_the_same_day_never_collide_one_creates_the_other_refreshes_or_skips()
    {
        var env = await EnvAsync();
        await using var observer = await SqlKit.OpenAsync(server, env.Database);
        // Yesterday: the second session refreshes; an older day: it skips. Both on a brand-new tenant (schema race too).
        foreach (var (offset, secondAction) in new[] { (-1, "refreshed"), (-6, "skipped") })
        {
            var schema = PostgresServer.UniqueName("sem_race");
            await using var first = await SqlKit.OpenAsync(server, env.Database, "whadmin");
            await using var second = await SqlKit.OpenAsync(server, env.Database, "whadmin");
            var tx = await first.BeginTransactionAsync();
            var created = await UpdateAsync(first, env.Connection, schema, Day(offset));
            Assert.Equal("created", created.GetProperty("action").GetString());

            var waiting = UpdateAsync(second, env.Connection, schema, Day(offset));
            await WaitUntilBlockedAsync(observer, second.ProcessID);
            await tx.CommitAsync();
            var other = await waiting;
            Assert.Equal(secondAction, other.GetProperty("action").GetString());
            Assert.Equal(20L, other.GetProperty("rows").GetInt64());
            Assert.Equal(20L, await ViewRowsAsync(observer, $"{schema}.foodlogstats"));
            Assert.Equal(20L, await observer.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
        }
    }
}
