using PhoodWarehouse.Tests.Reliability;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Every day matches its source (issue 13), in SQL: the fingerprint check of both kinds of day, the scheduled refresh
/// finishing yesterday after midnight (phood.now stands on either side of it), late corrections inside and outside
/// the lookback window, a tenant whose zone is still on the day that has ended for the warehouse, and a busy day.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DayVerificationTests(PostgresServer server)
{
    private DateOnly Day(int offset) => SqlKit.Today(server).AddDays(offset);

    private static DateOnly AsDay(object? value) => value is DateOnly d ? d : DateOnly.FromDateTime((DateTime)value!);

    private async Task<(SharedWarehouse Env, string Schema)> NewTenantAsync(int days, int rows)
    {
        var env = await SharedWarehouse.CreateAsync(server, days: days, rowsPerDay: rows);
        return (env, PostgresServer.UniqueName("dv"));
    }

    private static async Task<List<(DateOnly Day, string Status, long? Wh, long? Src)>> CheckAsync(NpgsqlConnection wh, SharedWarehouse env, string schema, DateOnly from, DateOnly to) =>
        (await wh.RowsAsync("SELECT day, status, warehouse_rows, source_rows FROM _wh.check_mv_window_by_template('foodlogstats', $1, $2, $3, $4)",
            env.Connection, schema, from, to))
        .Select(r => (AsDay(r[0]), (string)r[1]!, (long?)r[2], (long?)r[3])).ToList();

    private async Task SourceAsync(SharedWarehouse env, string sql)
    {
        await using var src = await SqlKit.OpenAsync(server, env.Source.Database);
        await src.ExecAsync(sql);
    }

    /// <param name="renderedPerDay">false: the guide's template ('{TARGET_DATE}'::date), whose source query is run per day
    /// with the day as a value; true: the same rows written with '{TARGET_DATE} 00:00'::timestamp, rendered per day.</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_check_finds_a_changed_value_an_added_and_a_deleted_row_NULL_versus_empty_and_a_missing_day_on_both_kinds_of_day(bool renderedPerDay)
    {
        var (env, schema) = await NewTenantAsync(days: 8, rows: 20);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '3' WHERE key = 'compact_after_days'");
        if (renderedPerDay)
        {
            await wh.ExecAsync("UPDATE _wh.mv_templates SET query_template = replace(query_template, '''{TARGET_DATE}''::date + 1', '''{TARGET_DATE} 00:00''::timestamp + interval ''1 day''') WHERE template_name = 'foodlogstats'");
            Assert.Contains("{TARGET_DATE} 00:00", await wh.ScalarAsync<string>("SELECT query_template FROM _wh.mv_templates WHERE template_name = 'foodlogstats'"));
        }
        await SourceAsync(env, $"UPDATE phood_foodlogsum SET station = NULL WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Day(-6):yyyy-MM-dd}')");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", env.Connection, schema, Day(-7), Day(0));
        // Days before yesterday are compacted (kind v), yesterday and today are materialized views (kind m).
        var kinds = (await wh.RowsAsync("SELECT day, kind::text FROM _wh.daily_views WHERE schema_name = $1", schema))
            .ToDictionary(r => AsDay(r[0]), r => (string)r[1]!);
        Assert.Equal("v", kinds[Day(-5)]);
        Assert.Equal("m", kinds[Day(-1)]);
        Assert.All(await CheckAsync(wh, env, schema, Day(-7), Day(0)), d => Assert.Equal("Match", d.Status));

        // Same count, other value (compacted day); one row deleted and one added (same count, MV day); NULL -> '' (same count);
        // an added row; a day dropped from the warehouse.
        await SourceAsync(env, $"""
            UPDATE phood_foodlogsum SET weight = weight + 0.001 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Day(-5):yyyy-MM-dd}');
            DELETE FROM phood_foodlogsum WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Day(-1):yyyy-MM-dd}');
            INSERT INTO phood_foodlogsum (id, logged_time, location_id, station, food_name, waste_reason, meal_period, weight, cost)
            VALUES (900001, '{Day(-1):yyyy-MM-dd} 23:59', 1, 'grill', 'rice', 'spoilage', 'lunch', 1.5, 2.25),
                   (900002, '{Day(-4):yyyy-MM-dd} 12:00', 1, 'grill', E'r\u00e9s''um\u00e9 "x" \\ y', NULL, 'lunch', 1.5, NULL);
            UPDATE phood_foodlogsum SET station = '' WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Day(-6):yyyy-MM-dd}');
            """);
        await wh.ExecAsync("SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, $2, $2)", schema, Day(-2));
        var checks = (await CheckAsync(wh, env, schema, Day(-7), Day(0))).ToDictionary(d => d.Day);
        Assert.Equal("Changed", checks[Day(-5)].Status);
        Assert.Equal(checks[Day(-5)].Wh, checks[Day(-5)].Src);
        Assert.Equal("Changed", checks[Day(-1)].Status);
        Assert.Equal(checks[Day(-1)].Wh, checks[Day(-1)].Src);
        Assert.Equal("Changed", checks[Day(-4)].Status);
        Assert.Equal(checks[Day(-4)].Wh + 1, checks[Day(-4)].Src);
        Assert.Equal("Changed", checks[Day(-6)].Status);
        Assert.Equal("Missing", checks[Day(-2)].Status);
        Assert.Null(checks[Day(-2)].Wh);
        Assert.Equal(["Match", "Match", "Match"], new[] { checks[Day(-7)].Status, checks[Day(-3)].Status, checks[Day(0)].Status });

        // Recorded, nothing changed: the state shows Changed, the run log 'checked', the warehouse's rows are the old ones.
        Assert.Equal("Changed", await wh.ScalarAsync<string>("SELECT check_status FROM _wh.daily_views WHERE schema_name = $1 AND day = $2", schema, Day(-5)));
        // Two checks of 8 days, one 'checked' row per day each.
        Assert.Equal(16L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'checked'", schema));
        Assert.Equal("Changed", await wh.ScalarAsync<string>("SELECT status FROM _wh.freshness(30, ARRAY[$1], NULL)", schema));

        // Force re-loads: Match again; the capture clears the Changed state.
        foreach (var d in new[] { Day(-6), Day(-5), Day(-4), Day(-2), Day(-1) })
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, force => true)", env.Connection, schema, d);
        Assert.All(await CheckAsync(wh, env, schema, Day(-7), Day(0)), d => Assert.Equal("Match", d.Status));
        Assert.Equal("Fresh", await wh.ScalarAsync<string>("SELECT status FROM _wh.freshness(30, ARRAY[$1], NULL)", schema));
        Assert.NotNull(await wh.ScalarAsync<DateTime?>("SELECT last_verified FROM _wh.freshness(30, ARRAY[$1], NULL)", schema));
    }

    [Fact]
    public async Task The_job_finishes_yesterday_once_after_midnight_and_a_day_it_could_no_longer_finish_is_Partial()
    {
        var (env, schema) = await NewTenantAsync(days: 6, rows: 10);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var d = Day(-3);
        // 23:00 on day d: the job loads d with what is logged so far; then the source gets the day's last hour.
        await wh.ExecAsync($"SET phood.now = '{d:yyyy-MM-dd} 23:00'");
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        var at2300 = await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_{d:yyyy_MM_dd}");
        await SourceAsync(env, $"""
            INSERT INTO phood_foodlogsum (id, logged_time, location_id, station, food_name, waste_reason, meal_period, weight, cost)
            SELECT 800000 + g, '{d:yyyy-MM-dd} 23:30'::timestamp + make_interval(secs => g), 1, 'grill', 'rice', 'spoilage', 'dinner', 1, 1
            FROM generate_series(1, 5) g
            """);
        Assert.False(await wh.ScalarAsync<bool>("SELECT complete FROM _wh.daily_views WHERE schema_name = $1 AND day = $2", schema, d));

        // 00:30 the next day: yesterday (d) is refreshed once, with every row of the source.
        await wh.ExecAsync($"SET phood.now = '{d.AddDays(1):yyyy-MM-dd} 00:30'");
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        Assert.Equal(at2300 + 5, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_{d:yyyy_MM_dd}"));
        Assert.Equal(await SqlKit.SourceRowsAsync(server, env.Source, d), at2300 + 5);
        Assert.True(await wh.ScalarAsync<bool>("SELECT complete FROM _wh.daily_views WHERE schema_name = $1 AND day = $2", schema, d));
        var refreshes = await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND target_date = $2 AND action = 'refreshed'", schema, d);
        await wh.ExecAsync($"SET phood.now = '{d.AddDays(1):yyyy-MM-dd} 01:30'");
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        Assert.Equal(refreshes, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND target_date = $2 AND action = 'refreshed'", schema, d));

        // Day d+1 loaded at 01:30 only; when no job runs after its midnight and it closes, it is Partial.
        await wh.ExecAsync($"SET phood.now = '{d.AddDays(3):yyyy-MM-dd} 12:00'");
        var fresh = await wh.RowsAsync("SELECT status, partial::text[] FROM _wh.freshness(30, ARRAY[$1], NULL)", schema);
        Assert.Equal("Stale", fresh[0][0]);
        Assert.Contains(d.AddDays(1).ToString("yyyy-MM-dd"), (string[])fresh[0][1]!);
    }

    [Fact]
    public async Task A_late_correction_inside_the_lookback_window_is_repaired_once_a_day_and_one_outside_is_left_for_Test_WhMv()
    {
        var (env, schema) = await NewTenantAsync(days: 14, rows: 10);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", env.Connection, schema, Day(-13), Day(0));
        await SourceAsync(env, $"""
            UPDATE phood_foodlogsum SET weight = 99 WHERE logged_time::date IN ('{Day(-4):yyyy-MM-dd}', '{Day(-11):yyyy-MM-dd}');
            """);
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 7)", env.Connection, schema);
        Assert.Equal(99m * await SqlKit.SourceRowsAsync(server, env.Source, Day(-4)),
            await wh.ScalarAsync<decimal>($"SELECT sum(weight) FROM {schema}.foodlogstats_{Day(-4):yyyy_MM_dd}"));
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'repaired'", schema));
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_{Day(-11):yyyy_MM_dd} WHERE weight = 99"));
        // Once a day: a second run checks nothing again.
        var checkedRows = await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'checked'", schema);
        Assert.Equal(7L, checkedRows);
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 7)", env.Connection, schema);
        Assert.Equal(checkedRows, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'checked'", schema));
        // Outside the window: a check over it finds it.
        Assert.Equal("Changed", (await CheckAsync(wh, env, schema, Day(-11), Day(-11)))[0].Status);
    }

    [Fact]
    public async Task A_tenant_whose_zone_is_still_on_the_day_that_ended_for_the_warehouse_keeps_that_day_as_today()
    {
        var (env, schema) = await NewTenantAsync(days: 5, rows: 10);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SET TimeZone = 'UTC'");
        await wh.ExecAsync("SELECT _wh.ensure_tenant($1, $2)", env.Connection, schema);
        var bad = await wh.FailsAsync("SELECT _wh.set_tenant_time_zone($1, 'Mars/Olympus_Mons')", ["22023"], schema);
        Assert.Contains("pg_timezone_names", bad.Hint);
        await wh.ExecAsync("SELECT _wh.set_tenant_time_zone($1, 'America/Los_Angeles')", schema);
        var d = Day(-2);
        // 02:00 UTC on d+1: the warehouse's day d has ended, Los Angeles is at 18:00 on d (UTC-8 or -7).
        await wh.ExecAsync($"SET phood.now = '{d.AddDays(1):yyyy-MM-dd} 02:00+00'");
        Assert.Equal(d.AddDays(1), await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)"));
        Assert.Equal(d, await wh.ScalarAsync<DateOnly>("SELECT _wh.tenant_today($1)", schema));
        await wh.FailsAsync($"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{schema}', '{d.AddDays(1):yyyy-MM-dd}')", ["22023"]);
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        // Today for the tenant is d: loaded and not complete (its day has not ended in Los Angeles); d+1 does not exist.
        Assert.False(await wh.ScalarAsync<bool>("SELECT complete FROM _wh.daily_views WHERE schema_name = $1 AND day = $2", schema, d));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = $1 AND day > $2", schema, d));
        // At 09:00 UTC on d+1 (01:00 in Los Angeles) day d has ended there: the job finishes it.
        await wh.ExecAsync($"SET phood.now = '{d.AddDays(1):yyyy-MM-dd} 09:00+00'");
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        Assert.True(await wh.ScalarAsync<bool>("SELECT complete FROM _wh.daily_views WHERE schema_name = $1 AND day = $2", schema, d));
    }

    [Fact]
    public async Task The_job_skips_a_day_another_session_holds_and_says_so()
    {
        var (env, schema) = await NewTenantAsync(days: 3, rows: 10);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await using var other = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", env.Connection, schema, Day(-2), Day(0));
        await using var hold = await other.BeginTransactionAsync();
        await other.ExecAsync("SELECT _wh.lock_daily_view($1, $2)", schema, SqlKit.ViewName("foodlogstats", Day(0)));
        // The job must finish while the day is still held, without ever waiting for that lock (pg_locks).
        var job = await wh.ScalarAsync<int>("SELECT pg_backend_pid()");
        var run = wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0)", env.Connection, schema);
        await using (var watcher = await SqlKit.OpenAsync(server, env.Database))
            await SourceFaultTests.WaitUntilAsync(async () =>
                run.IsCompleted || await watcher.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", job));
        Assert.True(run.IsCompleted, "the job waited for the day another session holds");
        await run;
        Assert.Contains("busy", await wh.ScalarAsync<string>(
            "SELECT error FROM _wh.run_log WHERE tenant_schema = $1 AND target_date = $2 AND action = 'skipped' ORDER BY id DESC LIMIT 1", schema, Day(0)));
        await hold.RollbackAsync();
    }
}
