namespace PhoodWarehouse.Tests.Reliability;

/// <summary>What goes wrong at the tenant's side: the source stops mid-backfill, or answers slowly.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class SourceFaultTests(PostgresServer server)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());

    [Fact]
    public async Task The_source_stopping_mid_backfill_keeps_finished_days_reports_the_rest_and_a_rerun_completes_only_what_is_missing()
    {
        using var sourceCluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        var spec = new SampleTenantSourceSpec
        {
            Database = "remote_src", ReaderUser = "remote_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = Today.AddDays(-11), Days = 12, RowsPerDay = 25,
        };
        await SampleTenantSource.CreateAsync(sourceCluster.ConnectionString(), spec);
        var sourceDb = sourceCluster.ConnectionString(spec.Database);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("rf_stop", new TenantSource(sourceCluster.Host, sourceCluster.Port, spec.Database, spec.ReaderUser, spec.ReaderPassword, spec.FirstDay, 12, 25));
        await SlowSource.MakeSlowAsync(sourceDb, spec.ReaderUser, 0.4);

        var run = Task.Run(() => wh.Run("Invoke-WhMvBackfill rf_stop -Template foodlogstats -From ($WarehouseToday.AddDays(-11)) -ThrottleLimit 2"));
        await WaitUntilAsync(async () => await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'rf_stop'") >= 3);
        sourceCluster.Stop();
        var result = await run;

        var days = result.All<WhMvResult>();
        var created = days.Count(d => d.Action == MvAction.Created);
        var failed = days.Count(d => d.Action == MvAction.Failed);
        Assert.Equal(12, days.Count);
        Assert.InRange(created, 3, 11);
        Assert.Equal(12 - created, failed);
        Assert.Equal(failed, result.Errors.Count);
        Assert.Equal(created, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'rf_stop'"));
        await AssertNoOrphansAsync(wh, "rf_stop");
        Assert.Equal(created * 25L, await wh.ScalarAsync<long>("SELECT count(*) FROM rf_stop.foodlogstats", "phood_ro"));
        Assert.Equal(created * 25L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));

        sourceCluster.Restart();
        await SlowSource.RestoreAsync(sourceDb);
        var rerun = wh.Run("Invoke-WhMvBackfill rf_stop -Template foodlogstats -From ($WarehouseToday.AddDays(-11))");
        Assert.True(rerun.Succeeded, string.Join(" | ", rerun.AllErrors));
        Assert.Equal(failed, rerun.All<WhMvResult>().Count(d => d.Action == MvAction.Created));
        Assert.Equal(12 * 25L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task A_slow_source_hits_the_per_day_timeout_and_that_day_is_reported_as_failed()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 10);
        wh.AddTenant("rf_slow", source);
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 3);

        var result = wh.Run("Invoke-WhMvBackfill rf_slow -Template foodlogstats -From ($WarehouseToday.AddDays(-1)) -DayTimeout '00:00:01'");
        var days = result.All<WhMvResult>();
        Assert.Equal(2, days.Count);
        Assert.All(days, d => Assert.Equal(MvAction.Failed, d.Action));
        Assert.All(days, d => Assert.Contains("per-day timeout", d.Error));
        Assert.Equal(2, result.Errors.Count);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'rf_slow'"));
        Assert.Equal(2, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'rf_slow' AND action = 'failed'"));
    }

    internal static async Task AssertNoOrphansAsync(WarehouseScenario wh, string schema)
    {
        var strays = await wh.ScalarAsync<string>(
            $$"""
            SELECT string_agg(c.relname, ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = '{{schema}}' AND c.relkind IN ('m', 'r', 'v')
              AND c.relname !~ '^foodlogstats(_\d{4}_\d{2}_\d{2}|_recent|_closed)?$'
            """);
        Assert.Null(strays);
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"condition not met within {seconds} s");
            await Task.Delay(100);
        }
    }
}
