using PhoodWarehouse.Core.Connections;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 31, item 3: new closed days are loaded many to a transaction (<c>_wh.load_closed_days</c>: one statement puts
/// them all into &lt;template&gt;_closed), by the module's backfill and by the SQL windows alike. Each day still ends
/// equal to its source, with its own outcome, capture, run_log row and view; a day that fails takes the batch down and
/// is then loaded alone, so that it fails alone, as it did when every day was its own transaction.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ClosedDayBatchTests(PostgresServer server)
{
    private const string Template = "foodlogstats";
    private const int Rows = 20;

    private sealed record Env(string Database, TenantSource Source, string Connection, DateOnly Today);

    /// <summary>A warehouse whose closed days always go into &lt;template&gt;_closed, over a source of <paramref name="days"/> days.</summary>
    private async Task<Env> EnvAsync(int days = 12)
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days'");
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)");
        var source = await server.CreateTenantSourceAsync(days: days, rowsPerDay: Rows, firstDay: today.AddDays(-(days - 1)));
        var connection = PostgresServer.UniqueName("batch_conn");
        await wh.AddConnectionAsync(connection, source);
        return new Env(database, source, connection, today);
    }

    private static DateOnly[] Range(DateOnly from, DateOnly to) =>
        Enumerable.Range(0, to.DayNumber - from.DayNumber + 1).Select(from.AddDays).ToArray();

    private async Task AssertEqualsSourceAsync(NpgsqlConnection wh, Env env, string schema, IEnumerable<DateOnly> days)
    {
        await using var source = await SqlKit.OpenAsync(server, env.Source.Database);
        foreach (var day in days)
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, Template, schema, day, day),
                await RowFingerprint.OfWarehouseAsync(wh, Template, $"{schema}.{SqlKit.ViewName(Template, day)}"));
    }

    /// <summary>Makes the source return one row of <paramref name="day"/> twice (a view over the renamed table); its id.</summary>
    private async Task<long> RepeatARowAsync(Env env, DateOnly day)
    {
        await using var src = await SqlKit.OpenAsync(server, env.Source.Database);
        var id = await src.ScalarAsync<long>(
            "SELECT id FROM phood_foodlogsum WHERE logged_time >= $1 AND logged_time < $2 AND weight >= 0 ORDER BY id OFFSET 5 LIMIT 1",
            day.ToDateTime(TimeOnly.MinValue), day.AddDays(1).ToDateTime(TimeOnly.MinValue));
        await src.ExecAsync(
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE VIEW phood_foodlogsum AS SELECT * FROM foodlog_data UNION ALL SELECT * FROM foodlog_data WHERE id = {id};
            GRANT SELECT ON phood_foodlogsum TO "{env.Source.ReaderUser}";
            """);
        return id;
    }

    [Fact]
    public async Task Closed_days_loaded_together_each_equal_their_source_with_their_own_outcome_capture_and_run_log_row()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("batch_sql");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var closed = Range(env.Today.AddDays(-9), env.Today.AddDays(-2));
        await wh.ExecAsync("SELECT _wh.check_window($1, $2, $3, $4, $5)", Template, env.Connection, schema, closed[0], env.Today);
        // One closed day exists already: it is skipped, not loaded twice.
        await wh.ExecAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4)", Template, env.Connection, schema, closed[3]);

        var days = closed.Append(env.Today.AddDays(-1)).Append(env.Today).Reverse().ToArray();
        var results = (await wh.RowsAsync("SELECT r->>'date', r->>'action', (r->>'rows')::bigint FROM _wh.load_closed_days($1, $2, $3, $4) AS r",
                Template, env.Connection, schema, days))
            .ToDictionary(r => DateOnly.Parse((string)r[0]!), r => (Action: (string)r[1]!, Rows: (long)r[2]!));

        Assert.Equal(days.Length, results.Count);
        foreach (var day in days)
        {
            Assert.Equal(day == closed[3] ? "skipped" : "created", results[day].Action);
            Assert.Equal(Rows, results[day].Rows);
        }
        await AssertEqualsSourceAsync(wh, env, schema, days);
        // The new closed days: day views over the table, one transaction's capture, one 'created' row each.
        var loaded = closed.Where(d => d != closed[3]).ToArray();
        foreach (var day in loaded)
            Assert.Equal("v", await wh.ScalarAsync<string>("SELECT _wh.daily_relkind($1, $2)::text", schema, SqlKit.ViewName(Template, day)));
        Assert.Equal(1L, await wh.ScalarAsync<long>(
            "SELECT count(DISTINCT captured_at) FROM _wh.day_state WHERE schema_name = $1 AND day = ANY($2) AND captured_rows = $3",
            schema, loaded, (long)Rows));
        Assert.Equal((long)loaded.Length, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'created' AND target_date = ANY($2) AND row_count = $3",
            schema, loaded, (long)Rows));
        Assert.Equal((long)loaded.Length * Rows, await wh.ScalarAsync<long>(
            $"SELECT count(*) FROM {schema}.foodlogstats_closed WHERE _wh_day = ANY($1)", loaded));
        // Today and yesterday went through the one-day path: materialized views.
        Assert.Equal("m", await wh.ScalarAsync<string>("SELECT _wh.daily_relkind($1, $2)::text", schema, SqlKit.ViewName(Template, env.Today)));

        // Again: every day is there, nothing is loaded twice.
        var again = await wh.RowsAsync("SELECT r->>'action' FROM _wh.load_closed_days($1, $2, $3, $4) AS r", Template, env.Connection, schema, closed);
        Assert.All(again, r => Assert.Equal("skipped", (string)r[0]!));
        Assert.Equal((long)closed.Length * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
        // No day at all: nothing to do, not an error about a missing date.
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.load_closed_days($1, $2, $3, '{}'::date[])", Template, env.Connection, schema));
    }

    [Fact]
    public async Task A_day_that_repeats_a_key_fails_alone_in_the_window_and_in_the_backfill_and_its_batch_keeps_nothing()
    {
        var env = await EnvAsync();
        var bad = env.Today.AddDays(-5);
        var closed = Range(env.Today.AddDays(-9), env.Today.AddDays(-2));
        var repeated = await RepeatARowAsync(env, bad);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");

        // psql, the days together: the one error of a repeated key, naming the day; nothing of the batch is kept.
        var schema = PostgresServer.UniqueName("batch_dup");
        await wh.ExecAsync("SELECT _wh.check_window($1, $2, $3, $4, $5)", Template, env.Connection, schema, closed[0], closed[^1]);
        var error = await wh.FailsAsync("SELECT count(*) FROM _wh.load_closed_days($1, $2, $3, $4)", ["23505"], Template, env.Connection, schema, closed);
        Assert.StartsWith($"day {bad:yyyy-MM-dd} has more than one row with the key (id)=({repeated}) at the source", error.MessageText);
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE schema_name = $1", schema));

        // The SQL window: that day fails alone, every other day is loaded.
        var summary = JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_window_by_template($1, $2, $3, $4, $5)::text", Template, env.Connection, schema, closed[0], closed[^1])).RootElement;
        Assert.Equal(closed.Length - 1, summary.GetProperty("created").GetInt32());
        Assert.Equal(1, summary.GetProperty("failed").GetInt32());
        Assert.Equal(bad.ToString("yyyy-MM-dd"), summary.GetProperty("failures")[0].GetProperty("date").GetString());
        await AssertEqualsSourceAsync(wh, env, schema, closed.Where(d => d != bad));
        Assert.Null(await wh.ScalarAsync<string?>("SELECT _wh.daily_relkind($1, $2)::text", schema, SqlKit.ViewName(Template, bad)));

        // The module's backfill, one worker (so one batch of every day): the same.
        var tenant = PostgresServer.UniqueName("batch_mod");
        await wh.ExecAsync("SELECT _wh.check_window($1, $2, $3, $4, $5)", Template, env.Connection, tenant, closed[0], closed[^1]);
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var plan = await runner.PlanAsync(new BackfillRequest { Tenants = [tenant], Templates = [Template], From = closed[0], To = closed[^1], ThrottleLimit = 1 }, default);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(plan, default)) results.Add(result);
        Assert.Equal(closed.Length, results.Count);
        var failed = Assert.Single(results, r => r.Action == MvAction.Failed);
        Assert.Equal(bad, DateOnly.FromDateTime(failed.Date));
        Assert.Contains($"has more than one row with the key (id)=({repeated}) at the source", failed.Error);
        Assert.All(results.Where(r => r != failed), r => Assert.Equal(MvAction.Created, r.Action));
        await AssertEqualsSourceAsync(wh, env, tenant, closed.Where(d => d != bad));
        // One 'created' row per loaded day and one 'failed' row: the batch that failed left none of its own.
        Assert.Equal((long)closed.Length - 1, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'created'", tenant));
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'failed'", tenant));
    }

    [Fact]
    public async Task A_unique_key_over_an_expression_with_a_condition_is_checked_day_by_day_in_a_batch()
    {
        var env = await EnvAsync();
        var bad = env.Today.AddDays(-4);
        var repeated = await RepeatARowAsync(env, bad);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        // The key names its columns in upper case, inside an expression, and only rows that meet its condition count:
        // the batch's statement returns each row's day and the columns the key names, no more.
        await wh.ExecAsync(
            """
            INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
            SELECT 'foodlog_expr', description, query_template, column_definitions,
                   'CREATE UNIQUE INDEX ON {SCHEMA}.{VIEW_NAME} (ID, lower(Food_Name)) WHERE WEIGHT >= 0'
            FROM _wh.mv_templates WHERE template_name = 'foodlogstats'
            """);
        var schema = PostgresServer.UniqueName("batch_expr");
        var clean = Range(env.Today.AddDays(-9), env.Today.AddDays(-5));
        var dirty = Range(env.Today.AddDays(-4), env.Today.AddDays(-2));
        await wh.ExecAsync("SELECT _wh.check_window('foodlog_expr', $1, $2, $3, $4)", env.Connection, schema, clean[0], dirty[^1]);

        var loaded = await wh.RowsAsync("SELECT r->>'action' FROM _wh.load_closed_days('foodlog_expr', $1, $2, $3) AS r", env.Connection, schema, clean);
        Assert.Equal(clean.Length, loaded.Count(r => (string)r[0]! == "created"));
        Assert.Equal((long)clean.Length * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlog_expr_closed"));

        var error = await wh.FailsAsync("SELECT count(*) FROM _wh.load_closed_days('foodlog_expr', $1, $2, $3)", ["23505"], env.Connection, schema, dirty);
        Assert.StartsWith($"day {bad:yyyy-MM-dd} has more than one row with the key (ID, lower(Food_Name))=({repeated},", error.MessageText);
        Assert.Equal((long)clean.Length * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlog_expr_closed"));
    }

    [Fact]
    public async Task The_procedure_commits_after_each_step_of_closed_days_so_a_blocked_step_keeps_the_steps_before_it()
    {
        var env = await EnvAsync(days: 22);
        var schema = PostgresServer.UniqueName("batch_proc");
        var closed = Range(env.Today.AddDays(-21), env.Today.AddDays(-2));
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.check_window($1, $2, $3, $4, $5)", Template, env.Connection, schema, closed[0], closed[^1]);
        // 20 closed days: a step of 16, then one of 4. A day of the second step is held by another session.
        Assert.Equal(closed[..16], await wh.ScalarAsync<DateOnly[]>("SELECT _wh.window_step($1, $2, $3, $4, false)", Template, schema, closed[0], closed[^1]));
        await using var holder = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var hold = await holder.BeginTransactionAsync();
        await holder.ExecAsync("SELECT pg_advisory_xact_lock(hashtext('_wh.daily_view'), hashtext($1))", $"{schema}.{SqlKit.ViewName(Template, closed[18])}");

        await using var worker = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var run = worker.ScalarAsync<string>("CALL _wh.run_mv_window_by_template($1, $2, $3, $4, $5, summary => NULL)",
            Template, env.Connection, schema, closed[0], closed[^1]);
        await using var observer = await SqlKit.OpenAsync(server, env.Database);
        for (var i = 0; i < 200 && !await observer.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", worker.ProcessID); i++)
            await Task.Delay(50);
        // The first step is committed while the second waits.
        Assert.Equal(16L * Rows, await observer.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed"));
        Assert.Equal(1L, await observer.ScalarAsync<long>(
            "SELECT count(DISTINCT captured_at) FROM _wh.day_state WHERE schema_name = $1", schema));
        await hold.CommitAsync();

        var summary = JsonDocument.Parse(await run).RootElement;
        Assert.Equal(closed.Length, summary.GetProperty("created").GetInt32());
        await AssertEqualsSourceAsync(wh, env, schema, closed);
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(DISTINCT captured_at) FROM _wh.day_state WHERE schema_name = $1", schema));
    }

    [Fact]
    public async Task The_backfill_loads_a_tenants_new_closed_days_many_to_a_transaction()
    {
        var env = await EnvAsync();
        var tenant = PostgresServer.UniqueName("batch_tx");
        var closed = Range(env.Today.AddDays(-11), env.Today.AddDays(-2));
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.check_window($1, $2, $3, $4, $5)", Template, env.Connection, tenant, closed[0], env.Today);
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var plan = await runner.PlanAsync(new BackfillRequest { Tenants = [tenant], Templates = [Template], From = closed[0], To = env.Today, ThrottleLimit = 2 }, default);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(plan, default)) results.Add(result);

        Assert.Equal(closed.Length + 2, results.Count);
        Assert.All(results, r => Assert.Equal(MvAction.Created, r.Action));
        await AssertEqualsSourceAsync(wh, env, tenant, Range(closed[0], env.Today));
        // Ten closed days over two workers, each batch a fair share of the days left (6, 3, then 1 before yesterday):
        // the captures carry a few transaction starts, not ten. Today and yesterday each had their own.
        var transactions = await wh.ScalarAsync<long>(
            "SELECT count(DISTINCT captured_at) FROM _wh.day_state WHERE schema_name = $1 AND day = ANY($2)", tenant, closed);
        Assert.InRange(transactions, 2L, 4L);
        Assert.Equal((long)closed.Length * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {tenant}.foodlogstats_closed"));
    }
}
