using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// Rows j1-j5: the everyday commands that read the catalog of daily views (Get-WhTenant, Get-WhMvFreshness, Get-WhMv of
/// one tenant, Get-WhHealth, Export-WhFreshnessReport), at 20 tenants x 365 days and again at 50 x 730 (issue 15's target: under 250 ms), with the
/// growth between the two, so that 100 tenants x 3 years can be projected. Every day is loaded by the module with the
/// warehouse's defaults (closed days compacted), from one source database that all tenants read.
/// Row j6: each monitoring view (schema phood_monitor) read whole as the monitoring login at the larger size (issue 30's
/// target: under 100 ms each), as postgres_exporter and Grafana read them.
/// </summary>
internal sealed partial class Bench
{
    public async Task CatalogAsync(ResultTable table)
    {
        var (smallTenants, smallDays, bigTenants, bigDays) = options.Quick ? (5, 60, 10, 120) : (20, 365, 50, 730);
        const int rows = 5;
        Console.WriteLine($"Catalog: {smallTenants} x {smallDays}, then {bigTenants} x {bigDays} days ({rows} rows a day)...");
        var source = await SourceAsync(bigDays, rows, 300);
        var tenants = new List<string>();
        for (var i = 1; i <= bigTenants; i++)
        {
            tenants.Add($"cat_{i:00}");
            await TenantAsync(tenants[^1], source);
        }
        await RemoveTenantsExcept(tenants);

        var (loadSmall, failedSmall) = await BackfillAsync(tenants.Take(smallTenants).ToList(), smallDays);
        table.Add("", $"(load: {smallTenants} tenants x {smallDays} days x {rows} rows via the module, {failedSmall} failed)", Seconds(loadSmall));
        var small = await CatalogFiguresAsync(tenants[0]);
        var (loadBig, failedBig) = await BackfillAsync(tenants, bigDays);
        table.Add("", $"(load: to {bigTenants} tenants x {bigDays} days via the module, {failedBig} failed)", Seconds(loadBig));
        var big = await CatalogFiguresAsync(tenants[0]);

        var growth = (double)(bigTenants * bigDays) / (smallTenants * smallDays);
        string[] names = ["Get-WhTenant (TenantStore.ListAsync)", "Get-WhMvFreshness (DailyViewCatalog.FreshnessAsync, 30 days)",
                          "Get-WhMv -Tenant of one tenant (DailyViewCatalog.ListAsync, every day)", "Get-WhHealth (HealthInspector, every check)",
                          "Export-WhFreshnessReport -Days 90 (freshness, FreshnessCalendar.ReadAsync, the page)"];
        // The report reads three times j2's window day by day (4,500 days at 50 tenants) and writes a page for people: 500 ms.
        int[] targets = [250, 250, 250, 250, 500];
        for (var i = 0; i < names.Length; i++)
        {
            table.Add($"j{i + 1}", $"{names[i]} at {smallTenants} x {smallDays}", Ms(small.Figures[i]));
            table.Add("", $"  at {bigTenants} x {bigDays} ({big.DailyNames:N0} daily names; {growth:0.0}x the days)", Ms(big.Figures[i]),
                $"{smallTenants} x {smallDays}", Ratio(big.Figures[i], small.Figures[i]), $"< {targets[i]} ms", Met(big.Figures[i] < targets[i]));
        }

        string[] views = ["freshness", "days", "jobs", "replicas", "warehouse"];
        await using var monitor = new Npgsql.NpgsqlConnection(Monitor);
        await monitor.OpenAsync();
        for (var i = 0; i < views.Length; i++)
        {
            var rowsRead = 0L;
            var figure = await TimeAsync(async () =>
            {
                await using var command = new Npgsql.NpgsqlCommand($"SELECT * FROM phood_monitor.{views[i]}", monitor);
                await using var reader = await command.ExecuteReaderAsync();
                rowsRead = 0;
                while (await reader.ReadAsync()) rowsRead++;
            });
            table.Add(i == 0 ? "j6" : "", $"{(i == 0 ? "monitoring view" : "               ")} phood_monitor.{views[i]} read whole as phood_monitor at {bigTenants} x {bigDays} ({rowsRead} rows)",
                Ms(figure), "", "", "< 100 ms", Met(figure < 100));
        }
    }

    /// <summary>The catalog tenants only: the benchmark's other tenants (if any ran before) leave, as Remove-WhTenant does it.</summary>
    private async Task RemoveTenantsExcept(IReadOnlyCollection<string> keep)
    {
        await using var db = new Npgsql.NpgsqlConnection(Whadmin);
        await db.OpenAsync();
        var others = new List<string>();
        await using (var command = new Npgsql.NpgsqlCommand("SELECT schema_name FROM _wh.tenants", db))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) if (!keep.Contains(reader.GetString(0))) others.Add(reader.GetString(0));
        foreach (var t in others) await Exec(db, $"SELECT _wh.remove_tenant({Literal(t)})");
    }

    private sealed record CatalogFigures(long DailyNames, double[] Figures);

    private async Task<CatalogFigures> CatalogFiguresAsync(string oneTenant)
    {
        var dailyNames = await ScalarAsync<long>(Whadmin, "SELECT count(*) FROM _wh.daily_views");
        using var connection = await Connect(Whadmin);
        var catalog = new DailyViewCatalog(connection, NullLogger.Instance);
        var store = new TenantStore(connection, NullLogger.Instance);
        var health = new HealthInspector(connection, NullLogger.Instance);
        var figures = new[]
        {
            await TimeAsync(() => store.ListAsync([], default)),
            await TimeAsync(() => catalog.FreshnessAsync([], [], 30, default)),
            await TimeAsync(() => catalog.ListAsync(new DailyViewQuery { Tenants = [new NamePattern(oneTenant)] }, default)),
            await TimeAsync(() => health.RunAsync([], new HealthThresholds(), default)),
            await TimeAsync(async () =>
            {
                var pairs = await catalog.FreshnessAsync([], [], 90, default);
                var days = await new FreshnessCalendar(connection, NullLogger.Instance).ReadAsync(pairs, default);
                GC.KeepAlive(PhoodWarehouse.Core.Reports.FreshnessReportPage.Render(pairs, days, connection.Target, DateTimeOffset.UtcNow));
            }),
        };
        return new CatalogFigures(dailyNames, figures);
    }
}
