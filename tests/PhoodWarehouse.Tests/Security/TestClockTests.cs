using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, item 10: SET phood.now moves the SQL layer's clock only in a warehouse its installer marked for tests (a
/// database setting whadmin cannot make); elsewhere it changes nothing. Get-WhHealth warns about times recorded after
/// the server's clock.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class TestClockTests(PostgresServer server)
{
    private const string Year = "SELECT extract(year FROM _wh.now())::int";

    [Fact]
    public async Task Phood_now_is_honoured_only_where_the_installer_marked_the_warehouse_for_tests()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 1, rowsPerDay: 2);
        var thisYear = DateTime.UtcNow.Year;
        await using (var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin"))
        {
            await wh.ExecAsync("SET phood.now = '2030-06-01 12:00'");
            Assert.Equal(2030, await wh.ScalarAsync<int>(Year));
            // whadmin cannot mark (or unmark) a warehouse: it does not own the database.
            await wh.FailsAsync($"ALTER DATABASE \"{shared.Database}\" SET phood.test_clock = 'on'", ["42501"]);
        }

        await using (var su = await SqlKit.OpenAsync(server, shared.Database))
            await su.ExecAsync($"ALTER DATABASE \"{shared.Database}\" RESET phood.test_clock");
        await using (var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin"))
        {
            await wh.ExecAsync("SET phood.now = '2030-06-01 12:00'");
            Assert.InRange(await wh.ScalarAsync<int>(Year), thisYear - 1, thisYear + 1);
        }
    }

    [Fact]
    public async Task Get_WhHealth_warns_about_a_capture_recorded_after_the_servers_clock()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 2, rowsPerDay: 2);
        var schema = PostgresServer.UniqueName("future");
        using var scenario = await WarehouseScenario.StartAsync(server, shared.Database);
        Assert.Equal(WhHealthStatus.Ok, scenario.Run("Get-WhHealth -Check FutureTimes").Single<WhHealthCheck>().Status);

        await using (var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin"))
        {
            var day = SqlKit.Today(server).AddDays(-1);
            await wh.ExecAsync($"SET phood.now = '{day.AddDays(3):yyyy-MM-dd} 12:00'");
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3)", shared.Connection, schema, day);
        }
        var check = scenario.Run("Get-WhHealth -Check FutureTimes").Single<WhHealthCheck>();
        Assert.Equal(WhHealthStatus.Warning, check.Status);
        Assert.StartsWith("1 days", check.Value);
        Assert.Contains("phood.now", check.Message);
    }
}
