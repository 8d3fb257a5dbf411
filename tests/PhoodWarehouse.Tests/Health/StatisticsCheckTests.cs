using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Tests.Health;

/// <summary>
/// Issue 27, item 8: Get-WhHealth's NeverAnalyzed check reads the planner statistics themselves, not the activity
/// counters that a crash (or pg_stat_reset()) empties: after a reset, analyzed days are not reported, a day that was
/// never analyzed still is.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class StatisticsCheckTests(PostgresServer server)
{
    [Fact]
    public async Task Days_with_statistics_are_not_reported_after_the_counters_are_reset()
    {
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 20);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("stats_a", source);
        Assert.True(wh.Run("Invoke-WhMvBackfill stats_a -Template foodlogstats -From ($WarehouseToday.AddDays(-1))").Succeeded);
        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var analyze = new NpgsqlCommand("ANALYZE", db))
            await analyze.ExecuteNonQueryAsync();
        Assert.Equal(WhHealthStatus.Ok, Check(wh).Status);

        // What a crash does to the counters (pg_stat_reset: last_analyze gone), and one day that never had statistics.
        await using (var su = await server.OpenAsync(wh.Database))
        await using (var reset = new NpgsqlCommand("SELECT pg_stat_reset(); CREATE MATERIALIZED VIEW stats_a.foodlogstats_2001_01_01 AS SELECT 1 AS id; ALTER MATERIALIZED VIEW stats_a.foodlogstats_2001_01_01 OWNER TO whadmin", su))
            await reset.ExecuteNonQueryAsync();
        var check = Check(wh);
        Assert.Equal(WhHealthStatus.Warning, check.Status);
        Assert.Equal("1 daily view(s)", check.Value);
        Assert.Contains("stats_a.foodlogstats_2001_01_01", check.Message);
    }

    private static WhHealthCheck Check(WarehouseScenario wh)
    {
        var result = wh.Run("Get-WhHealth -Check NeverAnalyzed");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        return result.Single<WhHealthCheck>();
    }
}
