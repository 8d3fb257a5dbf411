using PhoodWarehouse.Core.Templates;

namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>
/// Every default that means "today" comes from the warehouse, per tenant, never from this machine's clock: two tenants
/// whose time zones are 25 hours apart always have different todays, so at least one of them is not this machine's
/// either, and each command must still stop at that tenant's own today.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class WarehouseClockTests(PostgresServer server)
{
    private const string Ahead = "Pacific/Kiritimati";  // UTC+14
    private const string Behind = "Pacific/Pago_Pago";  // UTC-11

    private static List<DateOnly> Days(DateOnly from, DateOnly to)
    {
        var days = new List<DateOnly>();
        for (var day = from; day <= to; day = day.AddDays(1)) days.Add(day);
        return days;
    }

    private static DateOnly Day(DateTime date) => DateOnly.FromDateTime(date);

    [Fact]
    public async Task Backfill_Update_Test_WhMv_and_Test_WhTemplate_default_to_each_tenants_today_on_the_warehouse_clock()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        // Source rows from 3 days before the server's today to 2 days after: both tenants' todays are covered.
        var first = WarehouseClock.ServerToday(server.ConnectionString()).AddDays(-3);
        wh.AddTenant("clk_ahead", await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 5, firstDay: first), $"-TimeZone {Ahead}");
        wh.AddTenant("clk_behind", await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 5, firstDay: first, seed: 2), $"-TimeZone {Behind}");
        // Read independently of the module: PostgreSQL's clock in each zone.
        var today = new Dictionary<string, DateOnly>
        {
            ["clk_ahead"] = DateOnly.Parse((await wh.ScalarAsync<string>($"SELECT (now() AT TIME ZONE '{Ahead}')::date::text"))!),
            ["clk_behind"] = DateOnly.Parse((await wh.ScalarAsync<string>($"SELECT (now() AT TIME ZONE '{Behind}')::date::text"))!),
        };
        Assert.NotEqual(today["clk_ahead"], today["clk_behind"]);
        var from = today["clk_behind"].AddDays(-1);

        // No -To: each tenant up to its own today. A default from this machine's clock would stop the tenant ahead
        // short, or refuse the tenant behind ("after today ... Leave out -To") when -To was left out.
        var backfill = wh.Run($"Get-WhTenant clk_* | Invoke-WhMvBackfill -Template foodlogstats -From '{from:yyyy-MM-dd}'");
        Assert.True(backfill.Succeeded, string.Join("; ", backfill.AllErrors));
        foreach (var tenant in today.Keys)
            Assert.Equal(Days(from, today[tenant]),
                backfill.All<WhMvResult>().Where(r => r.Tenant == tenant).Select(r => Day(r.Date)).Order());

        // Update-WhMv without -Date: the tenant's today (it exists now: refreshed).
        foreach (var tenant in today.Keys)
        {
            var update = wh.Run($"Update-WhMv {tenant} foodlogstats -Confirm:$false");
            var result = update.Single<WhMvResult>();
            Assert.Equal(today[tenant], Day(result.Date));
            Assert.Equal(MvAction.Refreshed, result.Action);
        }

        // Test-WhMv without -To: up to the tenant's today; Test-WhTemplate without -Date renders the tenant's today.
        foreach (var tenant in today.Keys)
        {
            var checks = wh.Run($"Test-WhMv {tenant} foodlogstats -From '{from:yyyy-MM-dd}'");
            Assert.True(checks.Succeeded, string.Join("; ", checks.AllErrors));
            Assert.Equal(Days(from, today[tenant]), checks.All<WhMvCheck>().Select(c => Day(c.Date)).Order());

            var report = wh.Run($"Test-WhTemplate foodlogstats {tenant}").Single<WhTemplateTest>();
            Assert.Equal(today[tenant], Day(report.Date));
            Assert.True(report.Success, string.Join("; ", report.Problems));
        }
    }
}
