namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// The instrument behind every "-WhatIf changes nothing" test: it must see a refresh, a changed row, a grant and a
/// cron change, and see nothing when nothing happened.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class CatalogSnapshotTests(PostgresServer server)
{
    [Fact]
    public async Task The_snapshot_sees_a_refresh_a_row_change_a_grant_and_a_cron_change_and_nothing_else()
    {
        var database = await server.CronWarehouseAsync();
        using var wh = await WarehouseScenario.StartAsync(server, database);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 10);
        var tenant = PostgresServer.UniqueName("snap");
        wh.AddTenant(tenant, source);
        var load = wh.Run($"Invoke-WhMvBackfill {tenant} -Template foodlogstats -From ($WarehouseToday.AddDays(-1))");
        Assert.True(load.Succeeded, string.Join("; ", load.AllErrors));

        var quiet = await wh.SnapshotAsync();
        Assert.Equal(quiet, await wh.SnapshotAsync());

        // A refresh after the source changed: only rows differ (the view's definition and name stay).
        await server.ExecuteAsync(source.Database,
            "UPDATE phood_foodlogsum SET weight = weight + 1 WHERE id = (SELECT max(id) FROM phood_foodlogsum)");
        await using (var db = await server.OpenAsync(database, "whadmin"))
        await using (var refresh = new NpgsqlCommand($"SELECT _wh.update_mv_by_template('foodlogstats', '{tenant}', '{tenant}', current_date)", db))
            await refresh.ExecuteNonQueryAsync();
        var refreshed = await wh.SnapshotAsync();
        Assert.NotEqual(quiet, refreshed);
        Assert.Contains(Changed(quiet, refreshed), line => line.StartsWith($"rows {tenant}.foodlogstats_"));

        // A changed row of a _wh table.
        await server.ExecuteAsync(database, $"UPDATE _wh.tenants SET client_name = 'Changed' WHERE schema_name = '{tenant}'");
        var rowChanged = await wh.SnapshotAsync();
        Assert.Contains(Changed(refreshed, rowChanged), line => line.StartsWith("rows _wh.tenants "));

        // A grant.
        await server.ExecuteAsync(database, $"GRANT INSERT ON _wh.run_log TO phood_ro");
        var granted = await wh.SnapshotAsync();
        Assert.Contains(Changed(rowChanged, granted), line => line.StartsWith("rel _wh.run_log "));
        await server.ExecuteAsync(database, $"REVOKE INSERT ON _wh.run_log FROM phood_ro");

        // A cron change: a job scheduled, then its schedule altered.
        var job = PostgresServer.UniqueName("snapjob");
        await server.ExecuteAsync(database, $"SELECT cron.schedule('{job}', '0 3 29 2 *', 'SELECT 1')");
        var scheduled = await wh.SnapshotAsync();
        Assert.Contains(Changed(granted, scheduled), line => line.StartsWith("cron ") && line.Contains(job));
        await server.ExecuteAsync(database, $"SELECT cron.alter_job(jobid, schedule => '0 4 29 2 *') FROM cron.job WHERE jobname = '{job}'");
        var altered = await wh.SnapshotAsync();
        Assert.Contains(Changed(scheduled, altered), line => line.StartsWith("cron ") && line.Contains("0 4 29 2 *"));
        await server.ExecuteAsync(database, $"SELECT cron.unschedule('{job}')");

        // A role attribute.
        var unscheduled = await wh.SnapshotAsync();
        await server.ExecuteAsync(database, "ALTER ROLE phood_ro CREATEDB");
        try
        {
            Assert.Contains(Changed(unscheduled, await wh.SnapshotAsync()), line => line.StartsWith("role phood_ro ") && line.Contains("createdb=true"));
        }
        finally
        {
            await server.ExecuteAsync(database, "ALTER ROLE phood_ro NOCREATEDB");
        }
        Assert.Equal(unscheduled, await wh.SnapshotAsync());
    }

    private static List<string> Changed(string before, string after) =>
        after.Split('\n').Except(before.Split('\n')).ToList();
}
