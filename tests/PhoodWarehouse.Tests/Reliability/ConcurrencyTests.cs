using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>Several actors at once: two backfills, a backfill and a removal, readers and a refresh, pg_cron and a DBA.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class ConcurrencyTests(PostgresServer server)
{
    [Fact]
    public async Task Two_overlapping_backfills_of_the_same_days_create_each_day_once_without_errors()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 20, firstDay: today.AddDays(-7));
        wh.AddTenant("cc_twice", source);
        using var second = await WarehouseScenario.StartAsync(server, wh.Database);
        ConnectAs(wh, "cc_first");
        ConnectAs(second, "cc_second");

        var from = new Dictionary<string, object?> { ["from"] = today.AddDays(-7).ToDateTime(TimeOnly.MinValue) };
        const string backfill = "Invoke-WhMvBackfill cc_twice -Template foodlogstats -From $from -ThrottleLimit 3";
        ScriptResult[] runs;
        await using (var gate = await SlowSource.GateAsync(server.ConnectionString(source.Database), source.ReaderUser))
        {
            var both = Task.WhenAll(Task.Run(() => wh.Run(backfill, from)), Task.Run(() => second.Run(backfill, from)));
            // The overlap, forced: no day can finish while the gate is shut, a day's source read waits there, and both
            // runs are at work in the warehouse at that moment.
            await SourceFaultTests.WaitUntilAsync(async () => await gate.WaitingAsync() >= 1 && await ActiveAsync(wh, "cc_first", "cc_second") == 2);
            await gate.OpenAsync();
            runs = await both;
        }

        Assert.All(runs, r => r.AssertSucceeded());
        var all = runs.SelectMany(r => r.All<WhMvResult>()).ToList();
        Assert.Equal(8, all.Count(d => d.Action == MvAction.Created));
        Assert.Equal(8, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'cc_twice'"));
        Assert.Equal(8 * 20L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task A_tenant_removed_while_another_tenant_is_backfilled_leaves_both_jobs_done_and_the_public_view_right()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var busy = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 10, firstDay: today.AddDays(-5));
        var leaving = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 10, firstDay: today, seed: 5);
        wh.AddTenant("cc_busy", busy);
        wh.Shell.SetVariable("from", today.ToDateTime(TimeOnly.MinValue));
        wh.AddTenant("cc_leaving", leaving, "-BackfillFrom $from");
        using var second = await WarehouseScenario.StartAsync(server, wh.Database);

        ScriptResult removal, loaded;
        await using (var gate = await SlowSource.GateAsync(server.ConnectionString(busy.Database), busy.ReaderUser))
        {
            var backfill = Task.Run(() => wh.Run("Invoke-WhMvBackfill cc_busy -Template foodlogstats -From $from -ThrottleLimit 2",
                new Dictionary<string, object?> { ["from"] = today.AddDays(-5).ToDateTime(TimeOnly.MinValue) }));
            await SourceFaultTests.WaitUntilAsync(async () => await gate.WaitingAsync() >= 1);
            // The removal runs, and finishes, while the backfill is in the middle of a day (held at the gate).
            var removing = Task.Run(() => second.Run("Remove-WhTenant cc_leaving -Confirm:$false"));
            await SourceFaultTests.WaitUntilAsync(() => Task.FromResult(removing.IsCompleted));
            removal = await removing;
            Assert.False(backfill.IsCompleted, "the backfill ended before the removal did");
            Assert.True(await gate.WaitingAsync() >= 1, "no day of the backfill was in flight when the removal ended");
            await gate.OpenAsync();
            loaded = await backfill;
        }

        removal.AssertSucceeded();
        loaded.AssertSucceeded();
        Assert.Equal(6, loaded.All<WhMvResult>().Count(d => d.Action == MvAction.Created));
        Assert.Equal(6 * 10L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND definition LIKE '%cc_leaving%'"));
    }

    /// <summary>
    /// Issue 27, item 9: the tenant being backfilled is removed in the middle of the run. Its tenant shares its
    /// connection with another tenant (the SQL layer allows it), so before, the next day's load registered the removed
    /// tenant again and made its schema anew; with a connection of its own, each remaining day failed advising to
    /// insert the connection again. Now the removal waits for the day in flight, and the tenant's remaining days are
    /// skipped, saying that it was removed: no error, nothing made again.
    /// </summary>
    [Fact]
    public async Task A_tenant_removed_during_its_own_backfill_is_not_made_again_and_its_remaining_days_say_so()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 10, firstDay: today.AddDays(-5));
        wh.AddTenant("cc_stays", source).AssertSucceeded();
        var connection = await wh.ScalarAsync<string>("SELECT connection_name FROM _wh.tenants WHERE schema_name = 'cc_stays'");
        await wh.ScalarAsync<string>($"SELECT _wh.create_tenant('cc_goes', '{connection}')::text", "whadmin");
        using var second = await WarehouseScenario.StartAsync(server, wh.Database);

        ScriptResult removal, loaded;
        await using (var gate = await SlowSource.GateAsync(server.ConnectionString(source.Database), source.ReaderUser))
        {
            var backfill = Task.Run(() => wh.Run("Invoke-WhMvBackfill cc_goes -Template foodlogstats -From $from -ThrottleLimit 1 -WarningVariable warned",
                new Dictionary<string, object?> { ["from"] = today.AddDays(-5).ToDateTime(TimeOnly.MinValue) }));
            await SourceFaultTests.WaitUntilAsync(async () => await gate.WaitingAsync() >= 1);
            // The removal waits for the day in flight (its registration is held by the day's transaction) ...
            var removing = Task.Run(() => second.Run("Remove-WhTenant cc_goes -Confirm:$false"));
            await SourceFaultTests.WaitUntilAsync(async () => await wh.ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%remove_tenant%'") >= 1);
            Assert.False(removing.IsCompleted);
            // ... which finishes once the source answers; the next days find the tenant gone.
            await gate.OpenAsync();
            removal = await removing;
            loaded = await backfill;
        }

        removal.AssertSucceeded();
        Assert.Empty(loaded.Errors);
        var days = loaded.All<WhMvResult>();
        Assert.Equal(6, days.Count);
        // The days in flight were loaded (the worker's batch of the four new closed days, loaded in one transaction, and
        // at most one day it began before the removal woke up); every day after the removal is skipped, none failed.
        var ordered = days.OrderBy(d => d.Date).Select(d => d.Action).ToList();
        var created = ordered.TakeWhile(a => a == MvAction.Created).Count();
        Assert.True(created >= 1 && ordered.Skip(created).All(a => a == MvAction.Skipped) && created <= 5,
            string.Join(" | ", days.OrderBy(d => d.Date).Select(d => $"{d.Date:MM-dd} {d.Action} {d.Note} {d.Error}")));
        var skipped = days.Where(d => d.Action == MvAction.Skipped).ToList();
        Assert.All(skipped, d => Assert.Contains("tenant 'cc_goes' was removed (Remove-WhTenant) while this backfill ran", d.Note));
        Assert.Single(loaded.Warnings, w => w.Message.Contains("cc_goes was removed while this backfill ran"));
        // Nothing of it was made again; the tenant that shares its connection is untouched.
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 'cc_goes'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_namespace WHERE nspname = 'cc_goes'"));
        Assert.Equal(1L, await wh.ScalarAsync<long>($"SELECT count(*) FROM _wh.tenant_connections WHERE tenant_name = '{connection}'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND definition LIKE '%cc_goes%'"));
    }

    [Fact]
    public async Task BI_readers_are_never_blocked_while_todays_view_refreshes()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 50, firstDay: today.AddDays(-1));
        wh.Shell.SetVariable("from", today.AddDays(-1).ToDateTime(TimeOnly.MinValue));
        wh.AddTenant("cc_read", source, "-BackfillFrom $from");
        var expected = await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro");

        ScriptResult result;
        await using (var gate = await SlowSource.GateAsync(server.ConnectionString(source.Database), source.ReaderUser))
        {
            var refresh = Task.Run(() => wh.Run("Update-WhMv cc_read foodlogstats -Confirm:$false"));
            await SourceFaultTests.WaitUntilAsync(async () => await gate.WaitingAsync() >= 1);
            // The refresh is held in the middle of its work: each BI query must answer without waiting for a lock.
            await using (var bi = await server.OpenAsync(wh.Database, "phood_ro"))
            await using (var watcher = await server.OpenAsync(wh.Database))
            {
                var pid = (int)(await PostgresServer.Scalar(bi, "SELECT pg_backend_pid()"))!;
                foreach (var sql in new[]
                         {
                             "SELECT count(*) FROM public.foodlogstats",
                             "SELECT count(*) FROM cc_read.foodlogstats",
                             $"SELECT count(*) FROM cc_read.foodlogstats_{today:yyyy_MM_dd}",
                         })
                {
                    var read = PostgresServer.Scalar(bi, sql);
                    await SourceFaultTests.WaitUntilAsync(async () => read.IsCompleted || await WaitsForLockAsync(watcher, pid));
                    Assert.True(read.IsCompleted, $"a BI reader waited for a lock during the refresh: {sql}");
                    Assert.True((long)(await read)! > 0, sql);
                }
                Assert.Equal(expected, (long)(await PostgresServer.Scalar(bi, "SELECT count(*) FROM public.foodlogstats"))!);
            }
            Assert.False(refresh.IsCompleted, "the refresh ended while the gate was shut");
            await gate.OpenAsync();
            result = await refresh;
        }

        result.AssertSucceeded();
        Assert.Equal(MvAction.Refreshed, result.Single<WhMvResult>().Action);
    }

    [Fact]
    public async Task A_pg_cron_run_and_a_manual_backfill_of_the_same_days_at_once_both_succeed()
    {
        Assert.True(server.HasPgCron, "the test cluster must preload pg_cron");
        var database = await server.CronWarehouseAsync();
        using var wh = await WarehouseScenario.StartAsync(server, database);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 20, firstDay: today.AddDays(-2));
        var tenant = PostgresServer.UniqueName("cc_cron");
        wh.AddTenant(tenant, source);
        ConnectAs(wh, "cc_backfill");
        var job = wh.Run($"Register-WhCronJob {tenant} foodlogstats '* * * * *'").Single<WhCronJob>();
        try
        {
            ScriptResult backfill;
            await using (var gate = await SlowSource.GateAsync(server.ConnectionString(source.Database), source.ReaderUser))
            {
                var running = Task.Run(() => wh.Run($"Invoke-WhMvBackfill {tenant} -Template foodlogstats -From $from -ThrottleLimit 1",
                    new Dictionary<string, object?> { ["from"] = today.AddDays(-2).ToDateTime(TimeOnly.MinValue) }));
                // The overlap, forced: the backfill is held in its first day until pg_cron's run (at the next minute) is
                // at work in the warehouse too; only then do the source reads go on.
                await SourceFaultTests.WaitUntilAsync(async () => await ActiveAsync(wh, "cc_backfill", "pg_cron") == 2, 90);
                await gate.OpenAsync();
                backfill = await running;
            }
            backfill.AssertSucceeded();

            WhCronJobRun? run = null;
            await SourceFaultTests.WaitUntilAsync(() =>
            {
                run = wh.Run("Get-WhCronJobRun -Name $n", new Dictionary<string, object?> { ["n"] = job.Name })
                    .All<WhCronJobRun>().FirstOrDefault(r => r.Status is "succeeded" or "failed");
                return Task.FromResult(run is not null);
            }, 90);
            Assert.True(run!.Status == "succeeded", run.Message);
            Assert.Equal(3, await wh.ScalarAsync<int>($"SELECT count(*) FROM pg_matviews WHERE schemaname = '{tenant}'"));
            Assert.Equal(60L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {tenant}.foodlogstats", "phood_ro"));
            Assert.Equal(2, await wh.ScalarAsync<int>(
                $"SELECT count(DISTINCT application_name) FROM _wh.run_log WHERE tenant_schema = '{tenant}' AND target_date = '{today:yyyy-MM-dd}' AND action <> 'failed'"));
        }
        finally
        {
            wh.Run("Unregister-WhCronJob -Name $n -Confirm:$false", new Dictionary<string, object?> { ["n"] = job.Name });
        }
    }

    /// <summary>Connects the scenario's shell again under an application name, to tell its sessions apart in pg_stat_activity.</summary>
    private void ConnectAs(WarehouseScenario scenario, string applicationName)
    {
        var cs = new NpgsqlConnectionStringBuilder(server.ConnectionString(scenario.Database, "whadmin")) { ApplicationName = applicationName };
        scenario.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", new Dictionary<string, object?> { ["cs"] = cs.ConnectionString })
            .AssertSucceeded();
    }

    /// <summary>How many of the application names have a statement running in the warehouse now.</summary>
    private static Task<long> ActiveAsync(WarehouseScenario wh, params string[] applicationNames) =>
        wh.ScalarAsync<long>(
            $"SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' " +
            $"AND application_name IN ({string.Join(", ", applicationNames.Select(n => $"'{n}'"))})");

    private static async Task<bool> WaitsForLockAsync(NpgsqlConnection watcher, int pid) =>
        (bool)(await PostgresServer.Scalar(watcher, $"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = {pid} AND NOT granted)"))!;
}
