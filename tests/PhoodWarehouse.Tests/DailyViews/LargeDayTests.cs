namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>
/// A large closed day (50,000 rows; the biggest elsewhere in the suite has 50) through the module as a DBA runs it:
/// loaded, compacted, checked, one value changed and found, repaired, and equal to the source in every column at each
/// step. Correctness only: how fast a 200,000-row day goes is the benchmark's (--large-day, rows k0-k4).
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class LargeDayTests(PostgresServer server)
{
    private const int Rows = 50_000;

    [Fact]
    public async Task A_50000_row_day_is_loaded_compacted_checked_and_repaired_with_every_row_equal_to_the_source()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        await using var db = await SqlKit.OpenAsync(server, wh.Database, "whadmin");
        var day = (await db.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)")).AddDays(-5);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: Rows, firstDay: day);
        wh.AddTenant("big", source);
        await using var sourceDb = await SqlKit.OpenAsync(server, source.Database);
        var expected = await RowFingerprint.OfSourceAsync(db, sourceDb, "foodlogstats", "big", day, day);
        Assert.StartsWith($"{Rows}/", expected);
        var view = $"big.{SqlKit.ViewName("foodlogstats", day)}";
        var vars = new Dictionary<string, object?> { ["d"] = day.ToDateTime(TimeOnly.MinValue) };

        var load = wh.Run("Invoke-WhMvBackfill big -Template foodlogstats -From $d -To $d", vars);
        Assert.True(load.Succeeded, string.Join("; ", load.AllErrors));
        Assert.Equal((long)Rows, Assert.Single(load.All<WhMvResult>()).Rows);
        Assert.Equal(expected, await RowFingerprint.OfWarehouseAsync(db, "foodlogstats", view));

        await db.ExecAsync("SELECT _wh.compact_closed_days('foodlogstats', 'big')");
        Assert.Equal("v", await db.ScalarAsync<string>("SELECT _wh.daily_relkind('big', $1)::text", SqlKit.ViewName("foodlogstats", day)));
        Assert.Equal(expected, await RowFingerprint.OfWarehouseAsync(db, "foodlogstats", view));
        Assert.Equal(expected, await RowFingerprint.OfWarehouseAsync(db, "foodlogstats", "public.foodlogstats", "client = 'big'"));
        Assert.Equal(MvCheckStatus.Match, wh.Run("Test-WhMv big -Template foodlogstats -Date $d", vars).Single<WhMvCheck>().Status);

        // One value of one row in the middle of the day changes: the check finds it, the repair puts it back.
        await db.ExecAsync("UPDATE big.foodlogstats_closed SET meal_period = 'brunch' WHERE id = (SELECT min(id) + 31337 FROM big.foodlogstats_closed)");
        var changed = wh.Run("Test-WhMv big -Template foodlogstats -Date $d", vars).Single<WhMvCheck>();
        Assert.Equal(MvCheckStatus.Changed, changed.Status);
        Assert.Equal((long)Rows, changed.WarehouseRows);
        var repair = wh.Run("Test-WhMv big -Template foodlogstats -Date $d | Repair-WhMv", vars);
        Assert.True(repair.Succeeded, string.Join("; ", repair.AllErrors));
        Assert.Equal(MvAction.Recreated, repair.Single<WhMvResult>().Action);
        Assert.Equal(MvCheckStatus.Match, wh.Run("Test-WhMv big -Template foodlogstats -Date $d", vars).Single<WhMvCheck>().Status);
        Assert.Equal(expected, await RowFingerprint.OfWarehouseAsync(db, "foodlogstats", view));
        Assert.Equal((long)Rows, await db.ScalarAsync<long>("SELECT count(*) FROM big.foodlogstats_closed"));
    }
}
