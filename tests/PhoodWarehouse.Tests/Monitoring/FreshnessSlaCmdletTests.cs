using PhoodWarehouse.Core.Configuration;
using PhoodWarehouse.Core.Health;
using PhoodWarehouse.Tests.Sql;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// The freshness SLA as a DBA meets it (issue 30): Set-WhTenant -FreshnessSla (and $null back to the warehouse's),
/// Get-WhTenant, the Late status in Get-WhMvFreshness and Get-WhHealth (with what to do), -WhatIf, Export/Import.
/// whadmin's sessions stand at a clock of the test's choosing (a role setting phood.now in this warehouse).
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class FreshnessSlaCmdletTests(PostgresServer server)
{
    private async Task SetClockAsync(string database, string clock)
    {
        await using var admin = await SqlKit.OpenAsync(server, database);
        await admin.ExecAsync($"ALTER ROLE whadmin IN DATABASE \"{database}\" SET phood.now = '{clock}'");
    }

    private static void Reconnect(WarehouseScenario wh)
    {
        var result = wh.Run("Disconnect-WhWarehouse; Connect-WhWarehouse -ConnectionString $cs | Out-Null",
            new Dictionary<string, object?> { ["cs"] = wh.Server.ConnectionString(wh.Database, "whadmin") });
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
    }

    [Fact]
    public async Task A_yesterday_read_before_it_ended_is_Late_past_the_SLA_and_Set_WhTenant_FreshnessSla_moves_the_deadline()
    {
        var today = SqlKit.Today(server);
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 10);
        // Loaded at 23:00 yesterday: yesterday's view holds what its source had then.
        await SetClockAsync(database, $"{today.AddDays(-1):yyyy-MM-dd} 23:00");
        using var wh = await WarehouseScenario.StartAsync(server, database);
        wh.AddTenant("sla_a", source);
        var load = wh.Run("Invoke-WhMvBackfill sla_a -Template foodlogstats -From $from -To $to",
            new Dictionary<string, object?> { ["from"] = today.AddDays(-3).ToDateTime(TimeOnly.MinValue), ["to"] = today.AddDays(-1).ToDateTime(TimeOnly.MinValue) });
        Assert.True(load.Succeeded, string.Join("; ", load.AllErrors));

        // 03:00 today: an hour past the default SLA (02:00:00).
        await SetClockAsync(database, $"{today:yyyy-MM-dd} 03:00");
        Reconnect(wh);
        var tenant = wh.Run("Get-WhTenant sla_a").Single<WhTenant>();
        Assert.Null(tenant.FreshnessSla);
        Assert.Equal(TimeSpan.FromHours(2), tenant.EffectiveFreshnessSla);
        var late = wh.Run("Get-WhMvFreshness -Tenant sla_a").Single<WhMvFreshness>();
        Assert.Equal((FreshnessStatus.Late, TimeSpan.FromHours(1), TimeSpan.FromHours(2)), (late.Status, late.LateBy, late.FreshnessSla!.Value));
        var health = Assert.Single(wh.Run("Get-WhHealth -Check Freshness").All<WhHealthCheck>());
        Assert.Equal(WhHealthStatus.Critical, health.Status);
        Assert.StartsWith("Late", health.Value);
        Assert.Contains($"Update-WhMv -Tenant sla_a -Template foodlogstats -Date {today.AddDays(-1):yyyy-MM-dd}", health.Message);
        Assert.Contains("1 h 0 min after its freshness SLA", health.Message);

        // -WhatIf names the change and changes nothing.
        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("Set-WhTenant sla_a -FreshnessSla 04:00:00 -WhatIf");
        Assert.True(whatIf.Succeeded, string.Join("; ", whatIf.AllErrors));
        Assert.Contains(whatIf.WhatIf, line => line.Contains("freshness SLA → 04:00:00"));
        Assert.Equal(before, await wh.SnapshotAsync());

        // Four hours: on time again. Out of range: refused, nothing changed.
        var set = wh.Run("Set-WhTenant sla_a -FreshnessSla 04:00:00").Single<WhTenant>();
        Assert.Equal((TimeSpan.FromHours(4), TimeSpan.FromHours(4)), (set.FreshnessSla!.Value, set.EffectiveFreshnessSla!.Value));
        Assert.Equal(FreshnessStatus.Fresh, wh.Run("Get-WhMvFreshness -Tenant sla_a").Single<WhMvFreshness>().Status);
        wh.Run("Set-WhTenant sla_a -FreshnessSla 8.00:00:00").AssertError("InvalidFreshnessSla");
        Assert.Equal(TimeSpan.FromHours(4), wh.Run("Get-WhTenant sla_a").Single<WhTenant>().FreshnessSla);

        // Export carries it; the same file imported again matches, and differs once the SLA changed here.
        var file = Path.Combine(Path.GetTempPath(), PostgresServer.UniqueName("sla") + ".json");
        try
        {
            Assert.True(wh.Run("Export-WhConfiguration -Path $p", new Dictionary<string, object?> { ["p"] = file }).Succeeded);
            Assert.Equal(TimeSpan.FromHours(4), Assert.Single(WarehouseConfiguration.FromJson(await File.ReadAllTextAsync(file), file).Tenants).FreshnessSla);
            var same = wh.Run("Import-WhConfiguration -Path $p", new Dictionary<string, object?> { ["p"] = file }).All<WhImportResult>();
            Assert.Equal(ImportAction.Unchanged, Assert.Single(same, r => r.Kind == "Tenant").Action);

            // $null: the warehouse's setting again (Late once more).
            Assert.Null(wh.Run("Set-WhTenant sla_a -FreshnessSla $null").Single<WhTenant>().FreshnessSla);
            Assert.Equal(FreshnessStatus.Late, wh.Run("Get-WhMvFreshness -Tenant sla_a").Single<WhMvFreshness>().Status);
            var differs = Assert.Single(wh.Run("Import-WhConfiguration -Path $p", new Dictionary<string, object?> { ["p"] = file }).All<WhImportResult>(), r => r.Kind == "Tenant");
            Assert.Equal(ImportAction.Skipped, differs.Action);
            Assert.Contains("freshness SLA '' here, '04:00:00' in the file", differs.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
