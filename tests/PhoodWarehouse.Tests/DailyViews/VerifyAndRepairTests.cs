using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>Test-WhMv, Repair-WhMv, -TimeZone and one freshness engine, as users run them (issue 13).</summary>
[Collection(WarehouseCollection.Name)]
public sealed class VerifyAndRepairTests(PostgresServer server)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());

    [Fact]
    public async Task Test_WhMv_finds_each_status_a_down_source_is_an_error_for_its_days_only_and_Repair_WhMv_WhatIf_changes_nothing_then_repairs()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var a = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 20);
        var b = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 20, seed: 3);
        wh.AddTenant("vr_a", a);
        wh.AddTenant("vr_b", b);
        Assert.True(wh.Run("Get-WhTenant vr_* | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-4))").Succeeded);

        var all = wh.Run("Get-WhTenant vr_* | Test-WhMv -Template foodlogstats -From ($WarehouseToday.AddDays(-4))");
        Assert.True(all.Succeeded, string.Join("; ", all.AllErrors));
        Assert.Equal(10, all.All<WhMvCheck>().Count(c => c.Status == MvCheckStatus.Match));

        await server.ExecuteAsync(a.Database, $"UPDATE phood_foodlogsum SET cost = cost + 1 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{Today.AddDays(-3):yyyy-MM-dd}')");
        Assert.True(wh.Run($"Remove-WhMv -Tenant vr_a -Template foodlogstats -Date '{Today.AddDays(-2):yyyy-MM-dd}' -Confirm:$false").Succeeded);
        // vr_b's source is down: a wrong port.
        Assert.True(wh.Run("Set-WhTenant vr_b -SourcePort 1 -SourceCredential $c -SkipConnectionTest", WarehouseScenario.SourceVariables(b)).Succeeded);

        var checks = wh.Run("$checks = Get-WhTenant vr_* | Test-WhMv -Template foodlogstats -From ($WarehouseToday.AddDays(-4)); $checks");
        var days = checks.All<WhMvCheck>();
        Assert.Equal(5, days.Count);
        Assert.All(days, d => Assert.Equal("vr_a", d.Tenant));
        Assert.Equal(MvCheckStatus.Changed, days.Single(d => d.Date == Today.AddDays(-3).ToDateTime(TimeOnly.MinValue)).Status);
        var missing = days.Single(d => d.Date == Today.AddDays(-2).ToDateTime(TimeOnly.MinValue));
        Assert.Equal(MvCheckStatus.Missing, missing.Status);
        Assert.Null(missing.WarehouseRows);
        Assert.Equal(20, missing.SourceRows);
        var down = checks.AssertError("SourceUnreachable");
        Assert.Equal("vr_b", down.TargetObject);

        // Get-WhMv's objects pipe in too: the same statuses.
        var piped = wh.Run($"Get-WhMv vr_a foodlogstats -From '{Today.AddDays(-3):yyyy-MM-dd}' -To '{Today.AddDays(-3):yyyy-MM-dd}' | Test-WhMv").All<WhMvCheck>();
        Assert.Equal(MvCheckStatus.Changed, Assert.Single(piped).Status);
        Assert.Equal(FreshnessStatus.Changed, wh.Run("Get-WhMvFreshness vr_a").All<WhMvFreshness>().Single().Status);

        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("$checks | Repair-WhMv -WhatIf");
        whatIf.AssertSucceeded();
        Assert.Equal(
            [
                $"Re-load from the source and swap (warehouse 20 rows, source 20 rows, contents differ) | {DailyViewName.Qualified("vr_a", "foodlogstats", Today.AddDays(-3))}",
                $"Create from the source (20 rows; the warehouse has no such day) | {DailyViewName.Qualified("vr_a", "foodlogstats", Today.AddDays(-2))}",
            ], whatIf.WhatIf);
        Assert.Empty(whatIf.Output);
        Assert.Equal(before, await wh.SnapshotAsync());

        var repaired = wh.Run("$checks | Repair-WhMv -Confirm:$false");
        Assert.True(repaired.Succeeded, string.Join("; ", repaired.AllErrors));
        var results = repaired.All<WhMvResult>();
        Assert.Equal(2, results.Count);
        Assert.Contains(results, r => r.Action == MvAction.Recreated && r.Date == Today.AddDays(-3).ToDateTime(TimeOnly.MinValue));
        Assert.Contains(results, r => r.Action == MvAction.Created && r.Date == Today.AddDays(-2).ToDateTime(TimeOnly.MinValue));
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'vr_a' AND action = 'repaired'"));
        Assert.Equal(100L, await wh.ScalarAsync<long>("SELECT count(*) FROM vr_a.foodlogstats", "phood_ro"));
        Assert.All(wh.Run("Test-WhMv vr_a foodlogstats -From ($WarehouseToday.AddDays(-4))").All<WhMvCheck>(), c => Assert.Equal(MvCheckStatus.Match, c.Status));

        // -Tenant/-From checks first and finds nothing more to do.
        var again = wh.Run("Repair-WhMv -Tenant vr_a -Template foodlogstats -From ($WarehouseToday.AddDays(-4)) -Confirm:$false");
        Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
        Assert.Empty(again.Output);
    }

    [Fact]
    public async Task Get_WhHealth_and_Get_WhMvFreshness_agree_on_a_compacted_tenant_with_a_gap_and_TimeZone_is_checked_kept_and_shown()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        await server.ExecuteAsync(wh.Database, "SET ROLE whadmin; UPDATE _wh.warehouse_info SET value = '3' WHERE key = 'compact_after_days'");
        var source = await server.CreateTenantSourceAsync(days: 10, rowsPerDay: 5);
        var bad = wh.Run("New-WhTenant -Name vr_zone -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -TimeZone Mars/Olympus",
            WarehouseScenario.SourceVariables(source));
        Assert.Contains("pg_timezone_names", bad.AssertError("InvalidTimeZone").Exception.Message);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.tenants WHERE schema_name = 'vr_zone'"));

        wh.AddTenant("vr_zone", source, "-TimeZone Europe/Berlin");
        var tenant = wh.Run("Get-WhTenant vr_zone").All<WhTenant>().Single();
        Assert.Equal("Europe/Berlin", tenant.TimeZone);
        var file = Path.Combine(Path.GetTempPath(), PostgresServer.UniqueName("vr_export") + ".json");
        Assert.True(wh.Run($"Export-WhConfiguration -Path '{file}'").Succeeded);
        Assert.Contains("\"timeZone\": \"Europe/Berlin\"", await File.ReadAllTextAsync(file));
        File.Delete(file);
        wh.Run("Set-WhTenant vr_zone -TimeZone Nowhere/Land").AssertError("InvalidTimeZone");
        Assert.Equal("Europe/Berlin", wh.Run("Get-WhTenant vr_zone").All<WhTenant>().Single().TimeZone);

        var tenantToday = DateOnly.FromDateTime(tenant.Today);
        Assert.True(wh.Run($"Invoke-WhMvBackfill vr_zone -Template foodlogstats -From '{tenantToday.AddDays(-9):yyyy-MM-dd}'").Succeeded);
        Assert.True(wh.Run($"Remove-WhMv -Tenant vr_zone -Template foodlogstats -Date '{tenantToday.AddDays(-5):yyyy-MM-dd}' -Confirm:$false").Succeeded);
        Assert.True(await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.daily_views WHERE schema_name = 'vr_zone' AND compacted") > 3);

        var freshness = wh.Run("Get-WhMvFreshness vr_zone -Days 7").All<WhMvFreshness>().Single();
        var health = wh.Run("Get-WhHealth -Check Freshness -FreshnessDays 7").All<WhHealthCheck>().Single(c => c.Target == "vr_zone/foodlogstats");
        Assert.Equal(FreshnessStatus.Gaps, freshness.Status);
        Assert.StartsWith("Gaps", health.Value);
        Assert.Equal(WhHealthStatus.Warning, health.Status);
        Assert.Equal(9, freshness.DailyViewCount);
        Assert.Contains("9 daily views", health.Value);
    }
}
