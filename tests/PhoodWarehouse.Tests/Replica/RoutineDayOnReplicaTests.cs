using System.Diagnostics;
using Xunit.Abstractions;

namespace PhoodWarehouse.Tests.Replica;

/// <summary>
/// Issue 18: BI never waits on maintenance, on the primary or on a hot standby. While long and short BI queries run
/// as phood_ro on public.foodlogstats on both, the whole routine day runs through the module: a new day, refreshing
/// today, finishing yesterday, a check and a repair, force on a recent and on a compacted day, compaction, retention
/// and Update-WhUnionView. Short queries never take more than 1 s, no BI query fails, and the standby has no recovery
/// conflict, with hot_standby_feedback on and PostgreSQL's default delays. The worst latencies and the replay lag are
/// written to the test output.
/// </summary>
[Collection(ReplicaCollection.Name)]
public sealed class RoutineDayOnReplicaTests(ReplicatedServer server, ITestOutputHelper output)
{
    private DateOnly today;  // the warehouse's (WarehouseClock), read once the warehouse exists
    private string Date(int offset) => today.AddDays(offset).ToString("yyyy-MM-dd");

    [Fact]
    public async Task The_routine_day_never_stalls_or_fails_a_BI_query_on_the_primary_or_the_standby()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        today = await wh.TodayAsync();
        // Closed days are compacted from the third on, so that the routine day compacts a tenant that already has its table.
        await SqlKit.ExecAsync(server.ConnectionString(wh.Database, "whadmin"), "UPDATE _wh.warehouse_info SET value = '2' WHERE key = 'compact_after_days'");
        var sources = new Dictionary<string, TenantSource>();
        foreach (var tenant in new[] { "rep_a", "rep_b" })
        {
            sources[tenant] = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 200, seed: tenant == "rep_a" ? 1 : 2);
            wh.AddTenant(tenant, sources[tenant]);
            Ok(wh.Run($"Invoke-WhMvBackfill {tenant} -Template foodlogstats -From '{Date(-7)}' -To '{Date(-1)}'"));
        }
        // A closed day left as a materialized view (the guide's create_mv_from_template), for the routine's compaction to move.
        await SqlKit.ExecAsync(server.ConnectionString(wh.Database, "whadmin"),
            $"""
             SELECT _wh.drop_mv_range_by_template('foodlogstats', 'rep_a', '{Date(-3)}', '{Date(-3)}');
             SELECT _wh.create_mv_from_template('foodlogstats', (SELECT connection_name FROM _wh.tenants WHERE schema_name = 'rep_a'), 'rep_a', '{Date(-3)}');
             """);
        Assert.Equal("m", await wh.ScalarAsync<string>($"SELECT _wh.daily_relkind('rep_a', 'foodlogstats_{Date(-3).Replace('-', '_')}')::text"));
        // A corrected row in a compacted day of the source, for the check to find and the repair to load again.
        await SqlKit.ExecAsync(server.ConnectionString(sources["rep_a"].Database),
            $"UPDATE phood_foodlogsum SET weight = weight + 1 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Date(-5)}')");
        await server.Cluster!.WaitForReplayAsync(server.Standby, TimeSpan.FromSeconds(60));
        var conflictsBefore = await ConflictsAsync(wh.Database);

        var primary = new BiLoad("primary", server.ConnectionString(wh.Database, "phood_ro"));
        var standby = new BiLoad("standby", server.StandbyConnectionString(wh.Database, "phood_ro"));
        using var sampling = new CancellationTokenSource();
        var lags = Task.Run(() => WorstReplayLagAsync(sampling.Token));
        await Task.WhenAll(primary.StartAsync(), standby.StartAsync());

        var steps = new List<(string Step, TimeSpan Took)>();
        void Step(string name, string script)
        {
            var clock = Stopwatch.StartNew();
            Ok(wh.Run(script));
            steps.Add((name, clock.Elapsed));
        }
        Step("new day", $"Update-WhMv -Tenant rep_a -Template foodlogstats -Date '{Date(0)}'; Update-WhMv -Tenant rep_b -Template foodlogstats -Date '{Date(0)}'");
        Step("refresh today", $"Update-WhMv -Tenant rep_a -Template foodlogstats -Date '{Date(0)}'");
        Step("finish yesterday", $"Update-WhMv -Tenant rep_a -Template foodlogstats -Date '{Date(-1)}'");
        Step("check and repair", $"Test-WhMv -Tenant rep_a -Template foodlogstats -From '{Date(-7)}' -To '{Date(-2)}' | Repair-WhMv -Confirm:$false");
        Step("force a recent day", $"Update-WhMv -Tenant rep_a -Template foodlogstats -Date '{Date(-1)}' -Force");
        Step("force a compacted day", $"Update-WhMv -Tenant rep_a -Template foodlogstats -Date '{Date(-6)}' -Force");
        Step("compaction (backfill's end)", $"Invoke-WhMvBackfill rep_a -Template foodlogstats -From '{Date(-7)}'");
        Step("retention", $"Remove-WhMv -Tenant rep_a -Template foodlogstats -Before '{Date(-6)}' -Confirm:$false");
        Step("Update-WhUnionView", "Update-WhUnionView -Tenant rep_a -Template foodlogstats; Update-WhUnionView -Public -Template foodlogstats");
        // Every step ran beside a long query that started before it.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await Task.WhenAll(primary.StopAsync(), standby.StopAsync());
        var caughtUp = await server.Cluster!.WaitForReplayAsync(server.Standby, TimeSpan.FromSeconds(60));
        sampling.Cancel();
        var worstLag = await lags;

        var conflicts = await ConflictsAsync(wh.Database) - conflictsBefore;
        var feedback = await SqlKit.ScalarAsync<string>(server.StandbyConnectionString(wh.Database), "SELECT current_setting('hot_standby_feedback')");
        output.WriteLine(string.Join("\n", steps.Select(s => $"{s.Step}: {s.Took.TotalMilliseconds:0} ms")));
        output.WriteLine(primary.ToString());
        output.WriteLine(standby.ToString());
        output.WriteLine($"replay lag: worst sampled {worstLag.TotalMilliseconds:0} ms (pg_stat_replication.replay_lag), caught up {caughtUp.TotalMilliseconds:0} ms after the last step; recovery conflicts {conflicts}; hot_standby_feedback {feedback}");
        foreach (var failure in primary.Failures.Concat(standby.Failures).Take(10)) output.WriteLine("failure: " + failure);

        Assert.Empty(primary.Failures);
        Assert.Empty(standby.Failures);
        Assert.True(primary.WorstShortQuery < TimeSpan.FromSeconds(1), primary.ToString());
        Assert.True(standby.WorstShortQuery < TimeSpan.FromSeconds(1), standby.ToString());
        Assert.True(primary.LongQueries > 0 && standby.LongQueries > 0, $"{primary}; {standby}");
        Assert.Equal(0, conflicts);
        Assert.Equal("on", feedback);
        // The routine did its work: the straggler was compacted, the corrected day repaired, the oldest day dropped,
        // and the standby shows the primary's rows.
        Assert.Equal("v", await wh.ScalarAsync<string>($"SELECT _wh.daily_relkind('rep_a', 'foodlogstats_{Date(-3).Replace('-', '_')}')::text"));
        Assert.Null(await wh.ScalarAsync<string>($"SELECT _wh.daily_relkind('rep_a', 'foodlogstats_{Date(-7).Replace('-', '_')}')::text"));
        Assert.Equal(await SqlKit.ScalarAsync<string>(server.ConnectionString(sources["rep_a"].Database),
                $"SELECT count(*) || '/' || sum(weight) FROM phood_foodlogsum WHERE logged_time::date = '{Date(-5)}'"),
            await wh.ScalarAsync<string>($"SELECT count(*) || '/' || sum(weight) FROM rep_a.foodlogstats WHERE logged_time::date = '{Date(-5)}'"));
        const string Fingerprint = "SELECT count(*) || '/' || coalesce(sum(weight), 0) FROM public.foodlogstats";
        Assert.Equal(await SqlKit.ScalarAsync<string>(server.ConnectionString(wh.Database, "phood_ro"), Fingerprint),
            await SqlKit.ScalarAsync<string>(server.StandbyConnectionString(wh.Database, "phood_ro"), Fingerprint));
    }

    private static void Ok(ScriptResult result) => Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));

    /// <summary>Every kind of recovery conflict the standby counted in the database (cancelled queries).</summary>
    private Task<long> ConflictsAsync(string database) =>
        SqlKit.ScalarAsync<long>(server.StandbyConnectionString(database),
            "SELECT confl_tablespace + confl_lock + confl_snapshot + confl_bufferpin + confl_deadlock FROM pg_stat_database_conflicts WHERE datname = current_database()");

    private async Task<TimeSpan> WorstReplayLagAsync(CancellationToken stop)
    {
        var worst = TimeSpan.Zero;
        await using var db = new NpgsqlConnection(server.Cluster!.ConnectionString());
        await db.OpenAsync(CancellationToken.None);
        while (!stop.IsCancellationRequested)
        {
            await using var command = new NpgsqlCommand("SELECT coalesce(max(replay_lag), '0') FROM pg_stat_replication", db);
            var lag = (TimeSpan)(await command.ExecuteScalarAsync(CancellationToken.None))!;
            if (lag > worst) worst = lag;
            try { await Task.Delay(100, stop); } catch (OperationCanceledException) { }
        }
        return worst;
    }
}
