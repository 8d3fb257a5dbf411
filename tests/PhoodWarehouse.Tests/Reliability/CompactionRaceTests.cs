namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Compaction racing a backfill, the scheduled job and BI readers. The overlap is forced, not hoped for: the test holds
/// the compaction's advisory lock of the tenant and template, so psql's compaction waits at its start (pg_blocking_pids);
/// while it waits, a backfill of other closed days, the scheduled job (CALL _wh.refresh_recent_by_template) and BI
/// readers of the tenant and public views run and must all finish, the readers without waiting on anything (since
/// 2.1.0 routine work changes rows, not the views BI reads). Then the gate opens and everything must hold: no error, no
/// deadlock, no lost row (every column of every day against the source), every reader got every row of the days it
/// could see, never "relation does not exist".
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class CompactionRaceTests(PostgresServer server)
{
    private const int Days = 10;
    private const int Rows = 20;

    private static readonly Once<(SharedWarehouse Env, DateOnly Today)> Shared = new();

    /// <summary>A tenant with three closed days (at the threshold: still materialized views), yesterday and today.</summary>
    private async Task<(SharedWarehouse Env, string Schema, DateOnly Today)> TenantAsync()
    {
        var (env, today) = await Shared.Get(async () =>
        {
            DateOnly day;
            await using (var clock = await SqlKit.OpenAsync(server, "postgres"))
                day = await clock.ScalarAsync<DateOnly>("SELECT current_date"); // the server's clock, as _wh.today_in(NULL) reads it
            var shared = await SharedWarehouse.CreateAsync(server, days: Days, rowsPerDay: Rows, firstDay: day.AddDays(-(Days - 1)));
            await using var db = await SqlKit.OpenAsync(server, shared.Database, "whadmin");
            await db.ExecAsync("UPDATE _wh.warehouse_info SET value = '3' WHERE key = 'compact_after_days'");
            return (shared, day);
        });
        var schema = PostgresServer.UniqueName("race");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        foreach (var (from, to) in new[] { (-9, -7), (-1, 0) })
            await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", env.Connection, schema, today.AddDays(from), today.AddDays(to));
        Assert.Equal(5L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_matviews WHERE schemaname = $1", schema));
        return (env, schema, today);
    }

    [Fact]
    public async Task Compaction_waiting_on_a_reader_while_a_backfill_the_job_and_readers_run_loses_no_row_deadlocks_nothing_and_hides_no_view()
    {
        var (env, schema, today) = await TenantAsync();
        DateOnly Day(int offset) => today.AddDays(offset);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");

        // The first BI reader: a query on the tenant view, its transaction left open (it holds what it read).
        await using var reader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-reader");
        await reader.ExecAsync("BEGIN ISOLATION LEVEL REPEATABLE READ");
        Assert.Equal(5L * Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));

        // psql's compaction of every closed day, held at its start: the test holds the compaction's advisory lock of
        // this tenant and template (since 2.1.0 a reader of the tenant view no longer holds a compaction up).
        await using var gate = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "race-gate");
        await gate.ExecAsync("SELECT pg_advisory_lock(hashtext('_wh.compact'), hashtext($1 || '.foodlogstats'))", schema);
        var gatePid = await gate.ScalarAsync<int>("SELECT pg_backend_pid()");
        await using var compactor = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "race-compact");
        var compactorPid = await compactor.ScalarAsync<int>("SELECT pg_backend_pid()");
        var compaction = compactor.ScalarAsync<string>("SELECT _wh.compact_closed_days('foodlogstats', $1)::text", schema);
        await using var watch = await SqlKit.OpenAsync(server, env.Database);
        async Task<bool> CompactionWaitsAsync() =>
            await watch.ScalarAsync<bool>("SELECT $2 = ANY (pg_blocking_pids($1))", compactorPid, gatePid);
        await UntilAsync(CompactionWaitsAsync, compaction);

        // While it waits: a backfill of five more closed days, the scheduled job, and two more BI readers.
        using var connection = await WarehouseConnector.ConnectAsync(new ConnectionRequest
        {
            ConnectionString = new NpgsqlConnectionStringBuilder(server.ConnectionString(env.Database, "whadmin")) { ApplicationName = "race-backfill" }.ConnectionString,
        }, NullLogger.Instance, default);
        var backfill = Task.Run(async () =>
        {
            var runner = new BackfillRunner(connection, NullLogger.Instance);
            var plan = await runner.PlanAsync(new BackfillRequest
            {
                Tenants = [schema], Templates = ["foodlogstats"], From = Day(-6), To = Day(-2), ThrottleLimit = 2,
            }, default);
            var results = new List<WhMvResult>();
            await foreach (var result in runner.RunAsync(plan, default)) results.Add(result);
            return results;
        });
        await using var job = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "race-job");
        var jobRun = job.ScalarAsync<string>("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 0, NULL)", env.Connection, schema);
        await using var tenantReader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-reader-2");
        var tenantRead = tenantReader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats");
        await using var publicReader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-reader-3");
        var publicRead = publicReader.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema);

        // Each of them finishes while the compaction still waits: they overlapped, and no reader waited on it.
        var days = await backfill;
        await jobRun;
        Assert.InRange(await tenantRead, 5L * Rows, (long)Days * Rows);
        Assert.InRange(await publicRead, 5L * Rows, (long)Days * Rows);
        Assert.True(await CompactionWaitsAsync());
        Assert.False(compaction.IsCompleted);

        // The first reader's snapshot still sees its rows; it ends (the first compaction creates the table and changes
        // the tenant view's definition once, which waits for no reader: docs/scale-out.md). Then the gate opens.
        Assert.Equal(5L * Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        await reader.ExecAsync("COMMIT");
        await gate.ExecAsync("SELECT pg_advisory_unlock(hashtext('_wh.compact'), hashtext($1 || '.foodlogstats'))", schema);
        var compacted = JsonDocument.Parse(await compaction).RootElement;
        // Its own three closed days and the backfill's five (the backfill's compaction found the tenant busy and left them).
        Assert.Equal(3 + days.Count, compacted.GetProperty("compacted").GetInt32());
        Assert.Equal(5, days.Count);
        Assert.All(days, d => Assert.True(d.Action == MvAction.Created, $"{d.View}: {d.Action} {d.Error}"));
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND (action = 'failed' OR error IS NOT NULL)", schema));

        // No lost row: every day, the tenant view and the public view equal the source, in every column; the closed
        // days the backfill left as materialized views (the table was not yet visible to it) move in on the next call.
        await wh.ExecAsync("SELECT _wh.compact_closed_days('foodlogstats', $1)", schema);
        await using var source = await SqlKit.OpenAsync(server, env.Source.Database);
        for (var offset = -9; offset <= 0; offset++)
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, Day(offset), Day(offset)),
                await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.{SqlKit.ViewName("foodlogstats", Day(offset))}"));
        var all = await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, Day(-9), Day(0));
        Assert.Equal(all, await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.foodlogstats"));
        Assert.Equal(all, await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", "public.foodlogstats", $"client = '{schema}'"));
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_matviews WHERE schemaname = $1", schema));
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails if <paramref name="mustNotEnd"/> ends first (the overlap was lost).</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, Task mustNotEnd)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!await condition())
        {
            Assert.False(mustNotEnd.IsCompleted, "the compaction ended before the overlap was seen" +
                (mustNotEnd.Exception is { } failed ? ": " + failed.GetBaseException().Message : ""));
            Assert.False(deadline.IsCancellationRequested, "the overlap was never seen");
            await Task.Delay(50);
        }
    }
}
