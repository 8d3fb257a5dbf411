namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// The monitoring login's grants are whadmin's part (functions.sql), its existence the admin's: when the admin's part
/// made it after whadmin's part ran (an upgrade done in that order), Install-WhWarehouse as whadmin is not UpToDate
/// until it has given the login its views.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class MonitoringInstallTests(PostgresServer server)
{
    [Fact]
    public async Task Install_WhWarehouse_as_whadmin_gives_a_login_without_its_views_its_views_then_says_UpToDate()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        // The state an admin's part run after whadmin's leaves: the login, without its grants.
        await using (var whadmin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
            await whadmin.ExecAsync("REVOKE SELECT ON ALL TABLES IN SCHEMA phood_monitor FROM phood_monitor");
        await using (var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor"))
            await monitor.FailsAsync("SELECT * FROM freshness", [SqlKit.InsufficientPrivilege]);

        var plan = wh.Run("Install-WhWarehouse -WhatIf");
        Assert.True(plan.Succeeded, string.Join("; ", plan.AllErrors));
        Assert.Contains(plan.WhatIf, line => line.Contains("give the monitoring login phood_monitor its views"));
        var install = wh.Run("Install-WhWarehouse -Confirm:$false").Single<WhInstallResult>();
        Assert.NotEqual("UpToDate", install.Action);
        await using (var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor"))
            Assert.Equal(0, await monitor.ScalarAsync<int>("SELECT tenants FROM warehouse"));
        Assert.Equal("UpToDate", wh.Run("Install-WhWarehouse -Confirm:$false").Single<WhInstallResult>().Action);
    }
}
