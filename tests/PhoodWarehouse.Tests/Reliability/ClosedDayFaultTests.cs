namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// A closed day that fails while it loads straight into &lt;template&gt;_closed (compact_after_days = 0 here: every closed
/// day goes there): a source row that does not read as its declared type, or the source dropping the connection in
/// the middle of the day's rows. Nothing of a new day is left behind (no rows, no view, no captured state), the rows of
/// a day that existed are intact (every column), and once the source is well again the same calls load it right.
/// One warehouse for the class; each test breaks a source of its own.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ClosedDayFaultTests(PostgresServer server)
{
    private const string PassThrough = "fault_pass";
    private const int Rows = 40;
    private const long BarrierLock = 4242;
    private static readonly Once<string> Warehouse = new();

    private Task<string> DatabaseAsync() => Warehouse.Get(async () =>
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days'");
        await PassThroughTemplate.AddAsync(wh, PassThrough);
        return database;
    });

    /// <summary>A tenant whose closed days -5..-3 are in the table; -2 is a closed day not loaded yet.</summary>
    private async Task<Tenant> LoadAsync(NpgsqlConnection wh, string template)
    {
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)");
        var source = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: Rows, firstDay: today.AddDays(-5));
        var tenant = new Tenant(source, PostgresServer.UniqueName("conn"), PostgresServer.UniqueName("cdf"), template, today);
        await wh.AddConnectionAsync(tenant.Connection, source);
        var summary = JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_window_by_template($1, $2, $3, $4, $5)::text", template, tenant.Connection, tenant.Schema,
            tenant.Day(-5), tenant.Day(-3))).RootElement;
        Assert.Equal(3, summary.GetProperty("created").GetInt32());
        Assert.Equal("v", await tenant.KindAsync(wh, -3));
        Assert.Null(await tenant.KindAsync(wh, -2));
        return tenant;
    }

    /// <summary>What must not move: the existing day's rows (every column) and capture, the tenant view, the relations.</summary>
    private static async Task<string> StateAsync(NpgsqlConnection wh, Tenant t) => string.Join("\n",
        await RowFingerprint.OfWarehouseAsync(wh, t.Template, $"{t.Schema}.{t.View(-3)}"),
        await RowFingerprint.OfWarehouseAsync(wh, t.Template, $"{t.Schema}.{t.Template}"),
        await RowFingerprint.OfWarehouseAsync(wh, t.Template, $"{t.Schema}.{t.Template}_closed"),
        await wh.ScalarAsync<string>(
            "SELECT string_agg(day || ' ' || captured_rows || ' ' || captured_at, ', ' ORDER BY day) FROM _wh.day_state WHERE schema_name = $1", t.Schema),
        await wh.ScalarAsync<string>(
            "SELECT string_agg(c.relname || ':' || c.relkind::text, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            t.Schema));

    /// <summary>Nothing of the new day (-2) anywhere: no rows in the table, no daily name, no captured state.</summary>
    private static async Task AssertNothingOfTheNewDayAsync(NpgsqlConnection wh, Tenant t)
    {
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {t.Schema}.{t.Template}_closed WHERE _wh_day = $1", t.Day(-2)));
        Assert.Null(await t.KindAsync(wh, -2));
        Assert.False(await wh.ScalarAsync<bool>("SELECT _wh.does_mv_exist($1, $2)", t.Schema, t.View(-2)));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE schema_name = $1 AND day = $2", t.Schema, t.Day(-2)));
    }

    private static string Middle(Tenant t, int offset) =>
        $"(SELECT id FROM foodlog_data WHERE logged_time >= '{t.Day(offset):yyyy-MM-dd}' AND logged_time < '{t.Day(offset + 1):yyyy-MM-dd}' ORDER BY id OFFSET {Rows / 2} LIMIT 1)";

    [Fact]
    public async Task A_row_that_fails_its_declared_type_mid_day_leaves_nothing_behind_in_closed_and_keeps_the_days_earlier_rows()
    {
        await using var wh = await SqlKit.OpenAsync(server, await DatabaseAsync(), "whadmin");
        var t = await LoadAsync(wh, PassThrough);
        var before = await StateAsync(wh, t);

        // The source now keeps weights as text, and one row in the middle of day -3 and of day -2 is not a number.
        await server.ExecuteAsync(t.Source.Database,
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE VIEW phood_foodlogsum AS
              SELECT id, logged_time, location_id, station, food_name, waste_reason, meal_period,
                     CASE WHEN id IN ({Middle(t, -3)}, {Middle(t, -2)}) THEN 'n/a' ELSE weight::text END AS weight, cost
              FROM foodlog_data;
            GRANT SELECT ON phood_foodlogsum TO "{t.Source.ReaderUser}";
            """);

        // psql: the new closed day, then the existing one re-created with force.
        var created = await wh.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4)", ["22P02"], t.Template, t.Connection, t.Schema, t.Day(-2));
        Assert.Contains("invalid input syntax for type numeric: \"n/a\"", created.MessageText);
        var forced = await wh.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4, force => true)", ["22P02"], t.Template, t.Connection, t.Schema, t.Day(-3));
        Assert.StartsWith($"{t.Schema}.{t.View(-3)}: ", forced.MessageText);
        await AssertNothingOfTheNewDayAsync(wh, t);
        Assert.Equal(before, await StateAsync(wh, t));

        // A window (one day per subtransaction, transient errors retried) reports both days failed and keeps the rest.
        var window = JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_window_by_template($1, $2, $3, $4, $5, force => true)::text", t.Template, t.Connection, t.Schema, t.Day(-3), t.Day(-2))).RootElement;
        Assert.Equal(2, window.GetProperty("failed").GetInt32());
        await AssertNothingOfTheNewDayAsync(wh, t);
        Assert.Equal(before, await StateAsync(wh, t));

        // The module's backfill (pooled sessions that keep their dblink connection) with -Force: both days failed, nothing moved.
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(wh.Database, "whadmin") }, NullLogger.Instance, default);
        var request = new BackfillRequest { Tenants = [t.Schema], Templates = [t.Template], From = t.Day(-3), To = t.Day(-2), Force = true, ThrottleLimit = 1 };
        var failed = await BackfillAsync(connection, request);
        Assert.All(failed, r => Assert.Equal(MvAction.Failed, r.Action));
        Assert.All(failed, r => Assert.Contains("invalid input syntax for type numeric", r.Error));
        await AssertNothingOfTheNewDayAsync(wh, t);
        Assert.Equal(before, await StateAsync(wh, t));

        // The source mended: the same backfill loads both days, equal to the source in every column.
        await SlowSource.RestoreAsync(server.ConnectionString(t.Source.Database));
        var mended = await BackfillAsync(connection, request);
        Assert.Equal([MvAction.Recreated, MvAction.Created], mended.OrderBy(r => r.Date).Select(r => r.Action));
        await AssertEqualsSourceAsync(wh, t, -5, -2);
    }

    [Fact]
    public async Task The_source_dropping_the_connection_mid_day_leaves_nothing_behind_in_closed_and_keeps_the_days_earlier_rows()
    {
        await using var wh = await SqlKit.OpenAsync(server, await DatabaseAsync(), "whadmin");
        var t = await LoadAsync(wh, "foodlogstats");
        var before = await StateAsync(wh, t);

        // A barrier in the middle of days -3 and -2: the source streams the day's first rows, then waits on a lock the
        // test holds, so the test knows the load is in the middle of the day when it cuts the connection.
        await server.ExecuteAsync(t.Source.Database,
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE FUNCTION wh_barrier(row_id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
              IF row_id IN ({Middle(t, -3)}, {Middle(t, -2)}) THEN PERFORM pg_advisory_xact_lock_shared({BarrierLock}); END IF;
              RETURN true;
            END $$;
            CREATE VIEW phood_foodlogsum AS SELECT f.* FROM foodlog_data f WHERE wh_barrier(f.id);
            GRANT SELECT ON phood_foodlogsum TO "{t.Source.ReaderUser}";
            """);
        await using var barrier = await SqlKit.OpenAsync(server, t.Source.Database);
        await barrier.ExecAsync("SELECT pg_advisory_lock($1)", BarrierLock);

        // load_closed_day tries once more over a new connection. The new day: the kept connection is cut in the middle
        // of the day, then the retry is. The forced day: the kept connection is the dead retry of the first call (it
        // fails at once), so the one attempt that reaches the source is the retry, and it is cut in the middle too.
        foreach (var (offset, force, expectedCuts) in new[] { (-2, false, 2), (-3, true, 1) })
        {
            var load = wh.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4, force => $5)", ["08006"],
                t.Template, t.Connection, t.Schema, t.Day(offset), force);
            var cuts = 0;
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (!load.IsCompleted)
            {
                Assert.False(deadline.IsCancellationRequested, "the load neither reached the barrier nor ended");
                var waiting = await barrier.ScalarAsync<int>(
                    "SELECT pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND NOT l.granted AND a.usename = $1",
                    t.Source.ReaderUser);
                if (waiting != 0 && await barrier.ScalarAsync<bool>("SELECT pg_terminate_backend($1, 60000)", waiting)) cuts++;
                await Task.WhenAny(load, Task.Delay(50));
            }
            var error = await load;
            Assert.True(expectedCuts == cuts, $"{cuts} cut(s), expected {expectedCuts}: {error.MessageText}");
            Assert.Contains("terminating connection due to administrator command", error.MessageText);
            await AssertNothingOfTheNewDayAsync(wh, t);
            Assert.Equal(before, await StateAsync(wh, t));
        }

        // The source well again: the same calls load both days, equal to the source in every column.
        await barrier.ExecAsync("SELECT pg_advisory_unlock($1)", BarrierLock);
        Assert.Equal("created", JsonDocument.Parse(await wh.ScalarAsync<string>("SELECT _wh.update_mv_by_template($1, $2, $3, $4)::text",
            t.Template, t.Connection, t.Schema, t.Day(-2))).RootElement.GetProperty("action").GetString());
        Assert.Equal("recreated", JsonDocument.Parse(await wh.ScalarAsync<string>("SELECT _wh.update_mv_by_template($1, $2, $3, $4, force => true)::text",
            t.Template, t.Connection, t.Schema, t.Day(-3))).RootElement.GetProperty("action").GetString());
        await SlowSource.RestoreAsync(server.ConnectionString(t.Source.Database));
        await AssertEqualsSourceAsync(wh, t, -5, -2);
    }

    private static async Task<List<WhMvResult>> BackfillAsync(WhConnection connection, BackfillRequest request)
    {
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(await runner.PlanAsync(request, default), default)) results.Add(result);
        Assert.Equal(2, results.Count);
        return results;
    }

    private async Task AssertEqualsSourceAsync(NpgsqlConnection wh, Tenant t, int from, int to)
    {
        await using var source = await SqlKit.OpenAsync(server, t.Source.Database);
        for (var offset = from; offset <= to; offset++)
        {
            Assert.Equal("v", await t.KindAsync(wh, offset));
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, t.Template, t.Schema, t.Day(offset), t.Day(offset)),
                await RowFingerprint.OfWarehouseAsync(wh, t.Template, $"{t.Schema}.{t.View(offset)}"));
        }
        Assert.Equal((to - from + 1L) * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {t.Schema}.{t.Template}_closed"));
    }

    private sealed record Tenant(TenantSource Source, string Connection, string Schema, string Template, DateOnly Today)
    {
        public DateOnly Day(int offset) => Today.AddDays(offset);
        public string View(int offset) => SqlKit.ViewName(Template, Day(offset));
        public Task<string?> KindAsync(NpgsqlConnection wh, int offset) =>
            wh.ScalarAsync<string?>("SELECT _wh.daily_relkind($1, $2)::text", Schema, View(offset));
    }
}
