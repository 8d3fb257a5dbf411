using PhoodWarehouse.Tests.Reliability;

namespace PhoodWarehouse.Tests.DailyViews;

[Collection(WarehouseCollection.Name)]
public sealed class BackfillTests(PostgresServer server)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());

    [Fact]
    public async Task Tenants_piped_from_Get_WhTenant_are_loaded_day_by_day_with_progress_and_row_counts_equal_the_source()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var a = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 40);
        var b = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 30, seed: 7);
        wh.AddTenant("bf_a", a);
        wh.AddTenant("bf_b", b);

        var result = wh.Run("Get-WhTenant bf_* | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-4)) -Verbose");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        // Core logs from the parallel workers reach -Verbose (written on the pipeline thread).
        Assert.Equal(10, result.Verbose.Count(v => v.Message.Contains("foodlogstats_") && v.Message.Contains(": Created (")));
        var days = result.All<WhMvResult>();
        Assert.Equal(10, days.Count);
        Assert.All(days, d => Assert.Equal(MvAction.Created, d.Action));
        Assert.NotEmpty(result.Progress);
        Assert.Contains(result.Progress, p => p.StatusDescription.Contains("of 10"));

        foreach (var (tenant, source) in new[] { ("bf_a", a), ("bf_b", b) })
        for (var day = Today.AddDays(-4); day <= Today; day = day.AddDays(1))
        {
            var expected = await wh.SourceRowsAsync(source, day);
            Assert.Equal(expected, days.Single(d => d.Tenant == tenant && d.Date == day.ToDateTime(TimeOnly.MinValue)).Rows);
            Assert.Equal(expected, await wh.ScalarAsync<long>($"SELECT count(*) FROM {DailyViewName.Qualified(tenant, "foodlogstats", day)}", "phood_ro"));
        }
        Assert.Equal(5 * 40 + 5 * 30L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));

        var again = wh.Run("Get-WhTenant bf_* | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-4))").All<WhMvResult>();
        Assert.Equal(6, again.Count(d => d.Action == MvAction.Skipped));
        Assert.Equal(4, again.Count(d => d.Action == MvAction.Refreshed));
        // A skipped day says why (issue 29, item 8); Pester's DbaSession checks the default table shows it.
        Assert.All(again.Where(d => d.Action == MvAction.Skipped), d => Assert.Equal(WhMvResult.ClosedDayNote, d.Note));
        Assert.All(again.Where(d => d.Action != MvAction.Skipped), d => Assert.Null(d.Note));
    }

    [Fact]
    public async Task A_failing_day_is_reported_the_others_are_kept_and_a_rerun_after_the_fix_does_only_that_day()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 20);
        wh.AddTenant("bf_fail", source);
        var bad = Today.AddDays(-2);
        await SlowSource.FailOneDayAsync(server.ConnectionString(source.Database), source.ReaderUser, bad);
        var first = wh.Run("Invoke-WhMvBackfill -Tenant bf_fail -Template foodlogstats -From ($WarehouseToday.AddDays(-4))");
        var days = first.All<WhMvResult>();
        Assert.True(4 == days.Count(d => d.Action == MvAction.Created), string.Join(" | ", days.Select(d => $"{d.Date:d} {d.Action} {d.Error}")));
        var failed = Assert.Single(days, d => d.Action == MvAction.Failed);
        Assert.Equal(bad.ToDateTime(TimeOnly.MinValue), failed.Date);
        Assert.Contains("division by zero", failed.Error);
        Assert.True(first.Errors.Count == 1, string.Join(" | ", first.AllErrors));
        var error = first.AssertError("DayFailed");
        Assert.Equal(1, await wh.ScalarAsync<int>($"SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'bf_fail' AND action = 'failed' AND target_date = '{bad:yyyy-MM-dd}'"));
        Assert.Equal(4 * 20L, await wh.ScalarAsync<long>("SELECT count(*) FROM bf_fail.foodlogstats", "phood_ro"));

        await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        var rerun = wh.Run("Invoke-WhMvBackfill -Tenant bf_fail -Template foodlogstats -From ($WarehouseToday.AddDays(-4))");
        Assert.True(rerun.Succeeded, string.Join("; ", rerun.AllErrors));
        var created = Assert.Single(rerun.All<WhMvResult>(), d => d.Action == MvAction.Created);
        Assert.Equal(bad.ToDateTime(TimeOnly.MinValue), created.Date);
        Assert.Equal(5 * 20L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task ErrorAction_Stop_stops_the_run_cleanly_with_consistent_views()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10);
        wh.AddTenant("bf_stop", source);
        await server.ExecuteAsync(source.Database,
            "ALTER TABLE phood_foodlogsum ENABLE ROW LEVEL SECURITY; CREATE POLICY all_fail ON phood_foodlogsum FOR SELECT USING (1 / 0 = 1);");
        var result = wh.Run("Invoke-WhMvBackfill -Tenant bf_stop -Template foodlogstats -From ($WarehouseToday.AddDays(-2)) -ThrottleLimit 1 -ErrorAction Stop");
        // Stopped: the first failed day ends the run as a terminating error (not one error record per day), and the
        // days after it are never tried (without -ErrorAction Stop, each of the 3 days fails and is logged).
        Assert.True(result.TerminatingError is not null && result.Errors.Count == 0,
            $"expected one terminating error, got {result.Errors.Count} error record(s): {string.Join(" | ", result.AllErrors)}");
        Assert.StartsWith("DayFailed,", result.TerminatingError!.FullyQualifiedErrorId);
        Assert.InRange(await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'bf_stop' AND action = 'failed'"), 1, 2);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'bf_stop'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task WhatIf_loads_nothing_and_bad_requests_fail_before_any_work()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2);
        wh.AddTenant("bf_check", source);
        var before = await wh.SnapshotAsync();

        var today = await wh.TodayAsync();
        var whatIf = wh.Run("Invoke-WhMvBackfill bf_check -Template foodlogstats -From ($WarehouseToday.AddDays(-1)) -WhatIf");
        whatIf.AssertSucceeded();
        Assert.Empty(whatIf.Output);
        Assert.Equal([$"Load 2 missing day(s) of foodlogstats and refresh today/yesterday where they exist, {today.AddDays(-1):yyyy-MM-dd} .. {today:yyyy-MM-dd} | bf_check"],
            whatIf.WhatIf);
        var cases = new Dictionary<string, string>
        {
            ["Invoke-WhMvBackfill bf_check -Template foodlogstats -From ($WarehouseToday) -To ($WarehouseToday.AddDays(-3))"] = "ReversedDateRange",
            ["Invoke-WhMvBackfill bf_check -Template foodlogstats -From ($WarehouseToday) -To ($WarehouseToday.AddDays(2))"] = "FutureDateRange",
            ["Invoke-WhMvBackfill bf_check -Template foodlogstats -From '1024-01-01' -To '1024-01-31'"] = "PreHistoryDateRange",
            ["Invoke-WhMvBackfill nobody -Template foodlogstats -From ($WarehouseToday)"] = "TenantNotFound",
            ["Invoke-WhMvBackfill bf_check -Template nothing_like_it -From ($WarehouseToday)"] = "TemplateNotFound",
        };
        foreach (var (script, id) in cases)
        {
            var result = wh.Run(script);
            result.AssertError(id);
            Assert.Empty(result.Output);
        }
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task Force_rebuilds_existing_days_and_Update_WhMv_Force_recreates_one_day_behind_the_readers_back()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 15);
        wh.AddTenant("bf_force", source, "-BackfillFrom ($WarehouseToday.AddDays(-3))");
        await server.ExecuteAsync(source.Database, $"DELETE FROM phood_foodlogsum WHERE id IN (SELECT id FROM phood_foodlogsum WHERE logged_time::date = '{Today.AddDays(-3):yyyy-MM-dd}' LIMIT 5)");

        var single = wh.Run($"Update-WhMv -Tenant bf_force -Template foodlogstats -Date '{Today.AddDays(-3):yyyy-MM-dd}' -Force -Confirm:$false");
        Assert.True(single.Succeeded, string.Join("; ", single.AllErrors));
        Assert.Equal(MvAction.Recreated, single.Single<WhMvResult>().Action);
        Assert.Equal(10L, single.Single<WhMvResult>().Rows);

        var all = wh.Run("Invoke-WhMvBackfill bf_force -Template foodlogstats -From ($WarehouseToday.AddDays(-3)) -Force").All<WhMvResult>();
        Assert.Equal(4, all.Count(d => d.Action == MvAction.Recreated));
        Assert.Equal(10L + 3 * 15, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task Stopping_a_backfill_cancels_the_days_in_flight_and_leaves_no_half_built_view()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 40, rowsPerDay: 20);
        wh.AddTenant("bf_cancel", source);
        // Each day takes at least 0.3 s at the source, so the run is still going when it is stopped.
        await server.ExecuteAsync(source.Database,
            """
            ALTER TABLE phood_foodlogsum ENABLE ROW LEVEL SECURITY;
            CREATE FUNCTION slow() RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.3) IS NOT NULL';
            CREATE POLICY slow_day ON phood_foodlogsum FOR SELECT USING (slow() OR true);
            """);
        wh.Shell.RunAndStop(
            "Invoke-WhMvBackfill bf_cancel -Template foodlogstats -From ($WarehouseToday.AddDays(-39)) -ThrottleLimit 2",
            () => wh.ScalarAsync<int>(DailyNames).GetAwaiter().GetResult() >= 2,
            TimeSpan.FromSeconds(60));

        // 38 closed days are more than compact_after_days: they go straight into bf_cancel.foodlogstats_closed, each
        // daily name a view over it. Count daily names, whatever their storage.
        var created = await wh.ScalarAsync<int>(DailyNames);
        Assert.InRange(created, 1, 39);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bf_cancel' AND c.relkind = 'm' AND c.relname !~ '^foodlogstats_\\d{4}_\\d{2}_\\d{2}$'"));
        await server.ExecuteAsync(source.Database, "DROP POLICY slow_day ON phood_foodlogsum");
        var viaView = await wh.ScalarAsync<long>("SELECT count(*) FROM bf_cancel.foodlogstats", "phood_ro");
        Assert.Equal(created * 20L, viaView);
    }

    private const string DailyNames =
        """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'bf_cancel' AND c.relkind IN ('m', 'v') AND c.relname ~ '^foodlogstats_\d{4}_\d{2}_\d{2}$'
        """;

}
