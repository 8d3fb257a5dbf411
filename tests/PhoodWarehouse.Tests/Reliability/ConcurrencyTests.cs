using System.Diagnostics;
using Npgsql;
using PhoodWarehouse.Core.DailyViews;
using PhoodWarehouse.Core.Schedules;
using PhoodWarehouse.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>Several actors at once: two backfills, a backfill and a removal, readers and a refresh, pg_cron and a DBA.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class ConcurrencyTests(PostgresServer server, ITestOutputHelper output)
{
    [Fact]
    public async Task Two_overlapping_backfills_of_the_same_days_create_each_day_once_without_errors()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 20);
        wh.AddTenant("cc_twice", source);
        using var second = await WarehouseScenario.StartAsync(server, wh.Database);

        const string backfill = "Invoke-WhMvBackfill cc_twice -Template foodlogstats -From ([datetime]::Today.AddDays(-7)) -ThrottleLimit 3";
        var runs = await Task.WhenAll(Task.Run(() => wh.Run(backfill)), Task.Run(() => second.Run(backfill)));

        Assert.All(runs, r => Assert.True(r.Succeeded, string.Join(" | ", r.AllErrors)));
        var all = runs.SelectMany(r => r.All<WhMvResult>()).ToList();
        Assert.Equal(8, all.Count(d => d.Action == MvAction.Created));
        Assert.Equal(8, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'cc_twice'"));
        Assert.Equal(8 * 20L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task A_tenant_removed_while_another_tenant_is_backfilled_leaves_both_jobs_done_and_the_public_view_right()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var busy = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 10);
        var leaving = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 10, seed: 5);
        wh.AddTenant("cc_busy", busy);
        wh.AddTenant("cc_leaving", leaving, "-BackfillFrom ([datetime]::Today)");
        await SlowSource.MakeSlowAsync(server.ConnectionString(busy.Database), busy.ReaderUser, 0.5);
        using var second = await WarehouseScenario.StartAsync(server, wh.Database);

        var backfill = Task.Run(() => wh.Run("Invoke-WhMvBackfill cc_busy -Template foodlogstats -From ([datetime]::Today.AddDays(-5)) -ThrottleLimit 2"));
        await SourceFaultTests.WaitUntilAsync(async () => await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'cc_busy'") >= 1);
        var removal = second.Run("Remove-WhTenant cc_leaving -Confirm:$false");
        var loaded = await backfill;

        Assert.True(removal.Succeeded, string.Join(" | ", removal.AllErrors));
        Assert.True(loaded.Succeeded, string.Join(" | ", loaded.AllErrors));
        Assert.Equal(6, loaded.All<WhMvResult>().Count(d => d.Action == MvAction.Created));
        Assert.Equal(6 * 10L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_views WHERE schemaname = 'public' AND definition LIKE '%cc_leaving%'"));
    }

    [Fact]
    public async Task BI_readers_are_never_blocked_while_todays_view_refreshes()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 50);
        wh.AddTenant("cc_read", source, "-BackfillFrom ([datetime]::Today.AddDays(-1))");
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 3);

        var refresh = Task.Run(() => wh.Run("Update-WhMv cc_read foodlogstats -Confirm:$false"));
        var longest = TimeSpan.Zero;
        var reads = 0;
        await using (var bi = await server.OpenAsync(wh.Database, "phood_ro"))
        {
            while (!refresh.IsCompleted)
            {
                var watch = Stopwatch.StartNew();
                await using var query = new NpgsqlCommand("SELECT client, sum(weight) FROM public.foodlogstats GROUP BY client", bi);
                await using (var reader = await query.ExecuteReaderAsync()) while (await reader.ReadAsync()) { }
                longest = watch.Elapsed > longest ? watch.Elapsed : longest;
                reads++;
                await Task.Delay(20);
            }
        }
        var result = await refresh;
        var refreshed = result.Single<WhMvResult>();
        output.WriteLine($"{reads} BI queries during a {refreshed.Duration.TotalSeconds:0.0} s refresh; longest read: {longest.TotalMilliseconds:0} ms");

        Assert.Equal(MvAction.Refreshed, refreshed.Action);
        Assert.True(reads >= 20, $"only {reads} reads ran during the refresh");
        Assert.True(longest < refreshed.Duration / 3, $"a reader waited {longest.TotalMilliseconds:0} ms during a {refreshed.Duration.TotalMilliseconds:0} ms refresh");
    }

    [Fact]
    public async Task A_pg_cron_run_and_a_manual_backfill_of_the_same_days_at_once_both_succeed()
    {
        Assert.True(server.HasPgCron, "the test cluster must preload pg_cron");
        var database = await server.CronWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 20);
        var tenant = PostgresServer.UniqueName("cc_cron");
        using var wh = await WarehouseScenario.StartAsync(server, database);
        wh.AddTenant(tenant, source);
        // Each source query takes 2 s: the backfill (3 days, one at a time) spans the minute boundary where pg_cron runs today.
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 2);
        var job = wh.Run($"Register-WhCronJob {tenant} foodlogstats '* * * * *'").Single<WhCronJob>();
        try
        {
            var untilMinute = 60 - DateTime.UtcNow.Second - DateTime.UtcNow.Millisecond / 1000.0;
            if (untilMinute > 3) await Task.Delay(TimeSpan.FromSeconds(untilMinute - 3));
            var backfill = wh.Run($"Invoke-WhMvBackfill {tenant} -Template foodlogstats -From ([datetime]::Today.AddDays(-2)) -ThrottleLimit 1");
            Assert.True(backfill.Succeeded, string.Join(" | ", backfill.AllErrors));

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
                $"SELECT count(DISTINCT application_name) FROM _wh.run_log WHERE tenant_schema = '{tenant}' AND target_date = current_date AND action <> 'failed'"));
        }
        finally
        {
            wh.Run("Unregister-WhCronJob -Name $n -Confirm:$false", new Dictionary<string, object?> { ["n"] = job.Name });
        }
    }
}
