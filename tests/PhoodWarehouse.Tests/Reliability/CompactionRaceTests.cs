using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.Connections;
using PhoodWarehouse.Core.DailyViews;
using PhoodWarehouse.Tests.Infrastructure;
using PhoodWarehouse.Tests.Sql;
using Xunit;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Compaction racing a backfill, the scheduled job and BI readers. The overlap is forced, not hoped for: a BI reader
/// holds the tenant view open, so the compaction (which must replace the tenant view and drop the materialized views
/// it moved) waits on it; while it waits, a backfill of other closed days, the scheduled job
/// (CALL _wh.refresh_recent_by_template) and more BI readers run, and the test asserts from pg_locks that the compaction
/// was still waiting when each of them had run or was itself waiting. Then the first reader ends and everything must
/// finish: no error, no deadlock, no lost row (every column of every day against the source), and every reader got
/// every row of the days it could see, never "relation does not exist". A reader queued behind the drop of its own
/// day's materialized view reads the same rows from the plain view that replaced it under the same name.
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

        // The first BI reader: a query on the tenant view, its transaction left open (it holds every day it read).
        await using var reader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-reader");
        await reader.ExecAsync("BEGIN ISOLATION LEVEL REPEATABLE READ");
        Assert.Equal(5L * Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        var readerPid = await reader.ScalarAsync<int>("SELECT pg_backend_pid()");

        // psql's compaction of every closed day now: it waits on the reader.
        await using var compactor = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "race-compact");
        var compactorPid = await compactor.ScalarAsync<int>("SELECT pg_backend_pid()");
        var compaction = compactor.ScalarAsync<string>("SELECT _wh.compact_closed_days('foodlogstats', $1)::text", schema);
        await using var watch = await SqlKit.OpenAsync(server, env.Database);
        async Task<bool> CompactionWaitsOnReaderAsync() =>
            await watch.ScalarAsync<bool>("SELECT $2 = ANY (pg_blocking_pids($1))", compactorPid, readerPid);
        await UntilAsync(CompactionWaitsOnReaderAsync, compaction);

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

        // Each of them has finished or waits, and the compaction still waits on the first reader: they overlapped.
        async Task<bool> WaitsAsync(string application) => await watch.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND cardinality(pg_blocking_pids(pid)) > 0)", application);
        await UntilAsync(async () => backfill.IsCompleted || await WaitsAsync("race-backfill"), compaction);
        await UntilAsync(async () => jobRun.IsCompleted || await WaitsAsync("race-job"), compaction);
        await UntilAsync(() => WaitsAsync("race-reader-2"), compaction);
        await UntilAsync(() => WaitsAsync("race-reader-3"), compaction);
        Assert.True(await CompactionWaitsOnReaderAsync());
        Assert.False(compaction.IsCompleted);
        Assert.False(tenantRead.IsCompleted);
        Assert.False(publicRead.IsCompleted);

        // The first reader ends: everything finishes, without an error.
        Assert.Equal(5L * Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        await reader.ExecAsync("COMMIT");
        var compacted = JsonDocument.Parse(await compaction).RootElement;
        Assert.Equal(3, compacted.GetProperty("compacted").GetInt32());
        var days = await backfill;
        Assert.Equal(5, days.Count);
        Assert.All(days, d => Assert.True(d.Action == MvAction.Created, $"{d.View}: {d.Action} {d.Error}"));
        await jobRun;
        Assert.InRange(await tenantRead, 5L * Rows, (long)Days * Rows);
        Assert.InRange(await publicRead, 5L * Rows, (long)Days * Rows);
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

    [Fact]
    public async Task A_reader_queued_behind_the_compaction_of_its_day_reads_the_day_from_the_view_that_replaced_the_materialized_view()
    {
        var (env, schema, today) = await TenantAsync();
        var day = SqlKit.ViewName("foodlogstats", today.AddDays(-9));
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var expected = await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.{day}");

        // The first reader holds one closed day only: the compaction gets past the tenant view and waits to drop that day.
        await using var reader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-day-reader");
        await reader.ExecAsync("BEGIN");
        Assert.Equal((long)Rows, await reader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{day}"));
        var readerPid = await reader.ScalarAsync<int>("SELECT pg_backend_pid()");
        await using var compactor = await SqlKit.OpenAsync(server, env.Database, "whadmin", applicationName: "race-day-compact");
        var compactorPid = await compactor.ScalarAsync<int>("SELECT pg_backend_pid()");
        var compaction = compactor.ScalarAsync<string>("SELECT _wh.compact_closed_days('foodlogstats', $1)::text", schema);
        await using var watch = await SqlKit.OpenAsync(server, env.Database);
        await UntilAsync(async () => await watch.ScalarAsync<bool>(
            "SELECT $2 = ANY (pg_blocking_pids($1)) AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = $1 AND NOT l.granted AND l.relation = $3::regclass)",
            compactorPid, readerPid, $"{schema}.{day}"), compaction);

        // Readers of that day's name and of the tenant view queue behind the compaction.
        await using var dayReader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-day-reader-2");
        var dayRead = dayReader.ScalarAsync<string>(await RowFingerprint.WarehouseSqlAsync(wh, "foodlogstats", $"{schema}.{day}"));
        await using var tenantReader = await SqlKit.OpenAsync(server, env.Database, "phood_ro", PostgresServer.PhoodRoPassword, "race-day-reader-3");
        var tenantRead = tenantReader.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats");
        foreach (var application in new[] { "race-day-reader-2", "race-day-reader-3" })
            await UntilAsync(async () => await watch.ScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND cardinality(pg_blocking_pids(pid)) > 0)", application), compaction);

        // The day's name now names a plain view over the table: the queued reader reads it there, with the same rows.
        await reader.ExecAsync("COMMIT");
        Assert.Equal(3, JsonDocument.Parse(await compaction).RootElement.GetProperty("compacted").GetInt32());
        Assert.Equal("v", await wh.ScalarAsync<string>("SELECT _wh.daily_relkind($1, $2)::text", schema, day));
        Assert.Equal(expected, await dayRead);
        Assert.Equal(5L * Rows, await tenantRead);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails if <paramref name="mustNotEnd"/> ends first (the overlap was lost).</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, Task mustNotEnd)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!await condition())
        {
            Assert.False(mustNotEnd.IsCompleted, "the compaction ended before the overlap was seen");
            Assert.False(deadline.IsCancellationRequested, "the overlap was never seen");
            await Task.Delay(50);
        }
    }
}
