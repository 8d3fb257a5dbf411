namespace PhoodWarehouse.Tests.Tenants;

/// <summary>
/// Issue 27, item 9: moving a tenant's zone westward used to put a loaded day in the tenant's future ("Fresh, Behind -1",
/// a day that cannot be checked). Such a change is refused, naming the day, and changes nothing.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ZoneChangeTests(PostgresServer server)
{
    [Fact]
    public async Task A_zone_that_would_put_a_loaded_day_in_the_tenants_future_is_refused()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 2, rowsPerDay: 3);
        var schema = PostgresServer.UniqueName("zone");
        var today = SqlKit.Today(server);
        await using var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin");
        // 05:00 UTC on the server's today: in Pago Pago (UTC-11) it is still yesterday.
        await wh.ExecAsync("SET TimeZone = 'UTC'");
        await wh.ExecAsync($"SET phood.now = '{today:yyyy-MM-dd} 05:00+00'");
        await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)", shared.Connection, schema, today);

        var refused = await wh.FailsAsync("SELECT _wh.set_tenant_time_zone($1, 'Pacific/Pago_Pago')", ["22023"], schema);
        Assert.Contains($"day {today:yyyy-MM-dd} is already loaded", refused.MessageText);
        Assert.Null(await wh.ScalarAsync<string?>("SELECT time_zone FROM _wh.tenants WHERE schema_name = $1", schema));

        // Eastward is fine: there the day has begun.
        await wh.ExecAsync("SELECT _wh.set_tenant_time_zone($1, 'Asia/Tokyo')", schema);
        Assert.Equal("Asia/Tokyo", await wh.ScalarAsync<string>("SELECT time_zone FROM _wh.tenants WHERE schema_name = $1", schema));
    }
}
