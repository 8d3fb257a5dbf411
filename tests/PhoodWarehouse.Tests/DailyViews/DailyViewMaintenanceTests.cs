using PhoodWarehouse.Tests.Reliability;

namespace PhoodWarehouse.Tests.DailyViews;

[Collection(WarehouseCollection.Name)]
public sealed class DailyViewMaintenanceTests(PostgresServer server)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());
    private DateTime Day(int offset) => Today.AddDays(offset).ToDateTime(TimeOnly.MinValue);

    [Fact]
    public async Task Freshness_tells_Fresh_Gaps_Stale_Empty_and_Failing_apart_for_tenants_piped_from_Get_WhTenant()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var shared = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 10);
        var failing = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 10, seed: 3);
        wh.AddTenant("fr_ok", shared, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-4))");
        wh.AddTenant("fr_gap", shared, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-4))");
        wh.AddTenant("fr_stale", shared);
        wh.AddTenant("fr_empty", shared);
        wh.AddTenant("fr_fail", failing);
        Assert.True(wh.Run("Invoke-WhMvBackfill fr_stale -Template foodlogstats -From ($WarehouseToday.AddDays(-7)) -To ($WarehouseToday.AddDays(-3))").Succeeded);
        var removed = wh.Run("Remove-WhMv -Tenant fr_gap -Template foodlogstats -Date ($WarehouseToday.AddDays(-2)) -Confirm:$false");
        Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
        await SlowSource.FailOneDayAsync(server.ConnectionString(failing.Database), failing.ReaderUser, Today.AddDays(-2));
        wh.Run("Invoke-WhMvBackfill fr_fail -Template foodlogstats -From ($WarehouseToday.AddDays(-4))");

        var result = wh.Run("Get-WhTenant fr_* | Get-WhMvFreshness -Days 7");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var report = result.All<WhMvFreshness>().ToDictionary(f => f.Tenant);
        Assert.Equal(5, report.Count);

        Assert.Equal(FreshnessStatus.Fresh, report["fr_ok"].Status);
        Assert.Equal(0, report["fr_ok"].DaysBehind);
        Assert.Empty(report["fr_ok"].MissingDates);
        Assert.NotNull(report["fr_ok"].LastSuccess);

        Assert.Equal(FreshnessStatus.Gaps, report["fr_gap"].Status);
        Assert.Equal(new[] { Day(-2) }, report["fr_gap"].MissingDates);

        Assert.Equal(FreshnessStatus.Stale, report["fr_stale"].Status);
        Assert.Equal(3, report["fr_stale"].DaysBehind);
        Assert.Equal(Day(-3), report["fr_stale"].LatestDate);
        Assert.Equal(new[] { Day(-2), Day(-1), Day(0) }, report["fr_stale"].MissingDates);

        Assert.Equal(FreshnessStatus.Empty, report["fr_empty"].Status);
        Assert.Null(report["fr_empty"].LatestDate);

        Assert.Equal(FreshnessStatus.Failing, report["fr_fail"].Status);
        Assert.Equal(new[] { Day(-2) }, report["fr_fail"].MissingDates);
        Assert.Contains("division by zero", report["fr_fail"].LastError);
        Assert.NotNull(report["fr_fail"].LastFailure);

        // After the fix and a re-run, the failing tenant is fresh again.
        await SlowSource.RestoreAsync(server.ConnectionString(failing.Database));
        Assert.True(wh.Run("Invoke-WhMvBackfill fr_fail -Template foodlogstats -From ($WarehouseToday.AddDays(-4))").Succeeded);
        Assert.Equal(FreshnessStatus.Fresh, wh.Run("Get-WhMvFreshness -Tenant fr_fail -Template foodlogstats").Single<WhMvFreshness>().Status);
    }

    [Fact]
    public async Task Get_WhMv_lists_views_with_rows_size_and_last_refresh_filtered_by_tenant_template_and_dates()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 12);
        wh.AddTenant("gm_a", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-3))");
        wh.AddTenant("gm_b", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-1))");

        var all = wh.Run("Get-WhMv -Tenant gm_*").All<WhMv>();
        Assert.Equal(6, all.Count);
        foreach (var view in all)
        {
            Assert.Equal(await wh.SourceRowsAsync(source, DateOnly.FromDateTime(view.Date)), view.Rows);
            Assert.True(view.SizeBytes > 0);
            Assert.NotNull(view.LastRefreshed);
            Assert.Equal(DailyViewName.For("foodlogstats", DateOnly.FromDateTime(view.Date)), view.Name);
        }
        var some = wh.Run("Get-WhTenant gm_a | Get-WhMv -Template foodlogstats -From ($WarehouseToday.AddDays(-2)) -To ($WarehouseToday.AddDays(-1))").All<WhMv>();
        Assert.Equal(new[] { Day(-2), Day(-1) }, some.Select(v => v.Date).ToArray());
        Assert.All(some, v => Assert.Equal("gm_a", v.Tenant));

        wh.Run("Get-WhMv -From ($WarehouseToday) -To ($WarehouseToday.AddDays(-3))").AssertError("ReversedDateRange");
    }

    [Fact]
    public async Task Remove_WhMv_WhatIf_changes_nothing_and_retention_drops_old_days_with_views_still_answering()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 10);
        wh.AddTenant("rt_a", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-5))");
        wh.AddTenant("rt_b", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-5))");
        var before = await wh.SnapshotAsync();

        var whatIf = wh.Run("Remove-WhMv -Tenant rt_a -Template foodlogstats -Before ($WarehouseToday.AddDays(-2)) -WhatIf");
        whatIf.AssertSucceeded();
        Assert.Empty(whatIf.Output);
        string Drop(string tenant, int offset) => $"Drop daily view (its rows leave the tenant view in the same transaction) | {DailyViewName.Qualified(tenant, "foodlogstats", Today.AddDays(offset))}";
        Assert.Equal([Drop("rt_a", -5), Drop("rt_a", -4), Drop("rt_a", -3)], whatIf.WhatIf);
        var piped = wh.Run("Get-WhMv rt_* -To ($WarehouseToday.AddDays(-3)) | Remove-WhMv -WhatIf");
        piped.AssertSucceeded();
        Assert.Equal([Drop("rt_a", -5), Drop("rt_a", -4), Drop("rt_a", -3), Drop("rt_b", -5), Drop("rt_b", -4), Drop("rt_b", -3)],
            piped.WhatIf.Order().ToList());
        Assert.Equal(before, await wh.SnapshotAsync());

        var real = wh.Run("Remove-WhMv -Tenant rt_a -Template foodlogstats -Before ($WarehouseToday.AddDays(-2)) -Confirm:$false -PassThru");
        Assert.True(real.Succeeded, string.Join("; ", real.AllErrors));
        Assert.Equal(new[] { Day(-5), Day(-4), Day(-3) }, real.All<WhMv>().Select(v => v.Date).ToArray());
        Assert.Equal(3, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'rt_a'"));
        Assert.Equal(3 * 10L, await wh.ScalarAsync<long>("SELECT count(*) FROM rt_a.foodlogstats", "phood_ro"));
        Assert.Equal(9 * 10L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        Assert.Equal(3, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'rt_a' AND action = 'dropped' AND template_name = 'foodlogstats'"));

        // Every day through the pipeline: the tenant view becomes a typed empty view, still readable.
        var all = wh.Run("Get-WhMv rt_b | Remove-WhMv -Confirm:$false");
        Assert.True(all.Succeeded, string.Join("; ", all.AllErrors));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM rt_b.foodlogstats", "phood_ro"));
        Assert.Equal(3 * 10L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));

        var snapshot = await wh.SnapshotAsync();
        wh.Run("Remove-WhMv -Tenant nobody -Template foodlogstats -Date ($WarehouseToday) -Confirm:$false").AssertError("TenantNotFound");
        wh.Run("Remove-WhMv -Tenant rt_a -Template nothing_like_it -Date ($WarehouseToday) -Confirm:$false").AssertError("TemplateNotFound");
        Assert.Equal(snapshot, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task Update_WhUnionView_puts_missing_days_back_into_the_tenant_view_and_rebuilds_the_public_view()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10);
        wh.AddTenant("uv_a", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-2))");
        // Troubleshooting #4: the tenant view lost a day (since 2.1.0 it reads the days' rows from uv_a.foodlogstats_recent).
        await wh.ScalarAsync<string>(
            $"WITH gone AS (DELETE FROM uv_a.foodlogstats_recent WHERE _wh_day = '{Today.AddDays(-1):yyyy-MM-dd}' RETURNING 1) SELECT count(*)::text FROM gone");
        Assert.Equal(20L, await wh.ScalarAsync<long>("SELECT count(*) FROM uv_a.foodlogstats", "phood_ro"));

        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("Update-WhUnionView -Tenant uv_a -Template foodlogstats -WhatIf");
        whatIf.AssertSucceeded();
        Assert.Empty(whatIf.Output);
        Assert.Equal(["Rebuild union view | uv_a.foodlogstats"], whatIf.WhatIf);
        Assert.Equal(before, await wh.SnapshotAsync());

        var tenant = wh.Run("Get-WhTenant uv_a | Update-WhUnionView -Template foodlogstats");
        Assert.True(tenant.Succeeded, string.Join("; ", tenant.AllErrors));
        var view = tenant.Single<WhUnionView>();
        Assert.Equal("uv_a.foodlogstats", view.View);
        Assert.Equal(3, view.DailyViewCount);
        Assert.Equal(30L, await wh.ScalarAsync<long>("SELECT count(*) FROM uv_a.foodlogstats", "phood_ro"));

        var pub = wh.Run("Update-WhUnionView -Public -Template foodlogstats").Single<WhUnionView>();
        Assert.Equal("public.foodlogstats", pub.View);
        Assert.Null(pub.Tenant);
        Assert.Equal(30L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));

        wh.Run("Update-WhUnionView -Tenant nobody -Template foodlogstats").AssertError("TenantNotFound");
        wh.Run("Update-WhUnionView -Public -Template nothing_like_it").AssertError("TemplateNotFound");
    }


}
