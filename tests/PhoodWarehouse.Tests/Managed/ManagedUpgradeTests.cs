using PhoodWarehouse.Tests.Upgrade;

namespace PhoodWarehouse.Tests.Managed;

/// <summary>
/// Issue 25: a warehouse the frozen 0.1.0 installed on a managed server (the only way that release could: the admin made
/// itself a member of whadmin) is upgraded in place by the admin with Install-WhWarehouse, after the admin gave up that
/// membership, which the installer asks for while it lasts; whadmin's days are all there and equal to the source.
/// </summary>
public sealed class ManagedUpgradeTests(ManagedPostgresServer server) : IClassFixture<ManagedPostgresServer>
{
    [Fact]
    public async Task A_0_1_0_warehouse_on_a_managed_server_is_upgraded_by_the_admin_and_loses_nothing()
    {
        var release = new FrozenRelease("0.1.0");
        await using (var admin = new NpgsqlConnection(server.AdminConnectionString()))
        {
            await admin.OpenAsync();
            await admin.ExecAsync("CREATE ROLE whadmin LOGIN PASSWORD 'temporary'; CREATE ROLE phood_ro LOGIN; GRANT whadmin TO master");
        }
        var database = await server.AdminCreateDatabaseAsync("phood_old");
        await release.InstallAsync(server.AdminConnectionString(database), server.ConnectionString(database, "whadmin"),
            PostgresServer.WhadminPassword, PostgresServer.PhoodRoPassword);

        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 6);
        await using (var wh = await SqlKit.OpenAsync(server, database, "whadmin"))
        {
            await wh.ExecAsync("INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES ('old_conn', $1, $2, $3, $4, $5)",
                source.Host, source.Port, source.Database, source.ReaderUser, source.ReaderPassword);
            await wh.ExecAsync("CALL _wh.run_mv_window_by_template('foodlogstats', 'old_conn', 'old_a', $1, $2)",
                source.FirstDay, source.FirstDay.AddDays(3));
        }

        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = server.AdminConnectionString(database),
            ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
        };
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).AssertSucceeded();
        var planned = shell.Run("Install-WhWarehouse -WhatIf -WhadminCredential $wc", variables);
        Assert.True(planned.Succeeded, string.Join("; ", planned.AllErrors));
        Assert.Contains(planned.Warnings, w => w.Message.Contains("REVOKE whadmin FROM master"));

        await using (var admin = new NpgsqlConnection(server.AdminConnectionString()))
        {
            await admin.OpenAsync();
            await admin.ExecAsync("REVOKE whadmin FROM master");
        }
        var upgrade = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", variables);
        Assert.True(upgrade.Succeeded, string.Join("; ", upgrade.AllErrors));
        Assert.Equal("Upgraded", upgrade.Single<WhInstallResult>().Action);
        Assert.DoesNotContain(upgrade.Warnings, w => w.Message.Contains("REVOKE whadmin"));
        Assert.Equal("UpToDate", shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", variables).Single<WhInstallResult>().Action);

        await ManagedChecks.AssertRolesStayInTheirLanesAsync(server.ConnectionString(database));
        using var wh2 = await WarehouseScenario.StartAsync(server, database);
        var check = wh2.Run("Test-WhMv -Tenant old_a -Template foodlogstats -From $f -To $t", new Dictionary<string, object?>
        {
            ["f"] = source.FirstDay.ToDateTime(TimeOnly.MinValue), ["t"] = source.FirstDay.AddDays(3).ToDateTime(TimeOnly.MinValue),
        });
        Assert.True(check.Succeeded, string.Join("; ", check.AllErrors));
        var days = check.All<WhMvCheck>();
        Assert.Equal(4, days.Count);
        Assert.All(days, d => Assert.Equal(MvCheckStatus.Match, d.Status));
    }
}
