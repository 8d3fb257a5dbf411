namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>
/// Issues 29 (item 11) and 30 together: a tenant whose yesterday is not finished within its freshness SLA is Late in
/// Get-WhMvFreshness, and the picture of freshness draws that day Late, counted in the legend.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class FreshnessReportLateTests(PostgresServer server)
{
    [Fact]
    public async Task A_yesterday_past_its_SLA_is_drawn_Late()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var a = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 5, firstDay: today.AddDays(-3));
        wh.AddTenant("fl_a", a);
        wh.Run($"Invoke-WhMvBackfill fl_a -Template foodlogstats -From '{today.AddDays(-3):yyyy-MM-dd}'").AssertSucceeded();
        await using (var whadmin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
        {
            await whadmin.ExecAsync($"SET phood.now = '{today.AddDays(-1):yyyy-MM-dd} 23:00'");
            await whadmin.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', 'fl_a', 'fl_a', $1, force => true)", today.AddDays(-1));
        }
        wh.Run("Set-WhTenant fl_a -FreshnessSla ([timespan]::FromMinutes(1)) -SkipConnectionTest").AssertSucceeded();
        var f = wh.Run("Get-WhMvFreshness fl_a -Days 4").All<WhMvFreshness>().Single();
        Assert.Equal("Late", f.Status.ToString());
        var page = Path.Combine(Path.GetTempPath(), "late-" + Guid.NewGuid() + ".html");
        wh.Run("Get-WhMvFreshness fl_a -Days 4 | Export-WhFreshnessReport -Path $p", new Dictionary<string, object?> { ["p"] = page }).AssertSucceeded();
        var html = await File.ReadAllTextAsync(page);
        File.Delete(page);
        Assert.Contains($"<div class=\"s-late\" title=\"fl_a / foodlogstats&#10;{today.AddDays(-1):yyyy-MM-dd}", html);
        Assert.Contains("Late (1)", html);
    }
}
