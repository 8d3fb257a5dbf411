namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 26, item 9: the SQL layer refuses the days the module refuses (before 2000-01-01, BC, infinite), on every path
/// that takes a date or a window, and changes nothing: a check from -infinity used to run until it had written 74 GB of
/// temporary files, and a BC date was stored as a day of year 4713.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DateBoundsTests(PostgresServer server)
{
    [Fact]
    public async Task Days_before_2000_BC_and_infinite_dates_are_refused_by_every_path_and_nothing_changes()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 2, rowsPerDay: 3);
        var schema = PostgresServer.UniqueName("bounds");
        await using var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin");
        var yesterday = SqlKit.Today(server).AddDays(-1);
        await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)", shared.Connection, schema, yesterday);
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(shared.Database));

        foreach (var bad in new[] { "'1999-12-31'", "'-infinity'", "'0044-03-15 BC'" })
        {
            var calls = new[]
            {
                $"SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, {bad}::date)",
                $"SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, {bad}::date, $3)",
                $"SELECT _wh.check_mv_window_by_template('foodlogstats', $1, $2, {bad}::date, $3)",
                $"CALL _wh.run_mv_window_by_template('foodlogstats', $1, $2, {bad}::date, $3)",
                $"SELECT _wh.update_mv_window($1, $2, {bad}::date, $3)",
            };
            foreach (var sql in calls)
            {
                var refused = await wh.FailsAsync(sql, ["22023"], shared.Connection, schema, yesterday);
                Assert.Contains("2000-01-01", refused.MessageText);
            }
        }
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(shared.Database)));
    }
}
