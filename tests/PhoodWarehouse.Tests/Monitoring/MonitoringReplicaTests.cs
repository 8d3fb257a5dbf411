using PhoodWarehouse.Tests.Replica;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// phood_monitor.replicas (issue 30) as the monitoring login, which has no right to pg_stat_replication's columns: each
/// streaming replica of the primary, named as Get-WhHealth names it, with its state and replay lag.
/// </summary>
[Collection(ReplicaCollection.Name)]
public sealed class MonitoringReplicaTests(ReplicatedServer server)
{
    [Fact]
    public async Task The_monitoring_login_sees_each_streaming_replica_and_its_replay_lag()
    {
        var database = await server.CreateWarehouseAsync();
        var standby = server.Standby;
        await using var monitor = await SqlKit.OpenAsync(server, database, "phood_monitor");
        List<object?[]> rows = [];
        for (var attempt = 0; attempt < 100 && rows.Count == 0; attempt++)
        {
            rows = await monitor.RowsAsync("SELECT replica, state, replay_lag_seconds, replay_lag_bytes, hot_standby_feedback FROM replicas");
            if (rows.Count == 0) await Task.Delay(200);
        }
        var row = Assert.Single(rows, r => (string)r[0]! == $"standby_{standby.Port}");
        Assert.Equal("streaming", row[1]);
        Assert.True((decimal)row[2]! >= 0);
        Assert.NotNull(row[3]);
        // Not through the view, the login reads nothing of the replication.
        Assert.Equal(0L, await monitor.ScalarAsync<long>("SELECT count(*) FROM pg_stat_replication WHERE replay_lag IS NOT NULL OR sent_lsn IS NOT NULL"));

        // phood_replica_lag_seconds{replica} from the real exporter, as the monitoring login.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var exporter = PrometheusTests.Exporter.Start(
            $"postgresql://phood_monitor:{Uri.EscapeDataString(PostgresServer.PhoodMonitorPassword)}@{server.Host}:{server.Port}/{database}?sslmode=disable", port);
        var metrics = await exporter.ScrapeAsync();
        var lag = Assert.Single(metrics, m => m.Name == "phood_replica_lag_seconds" && m.Labels.GetValueOrDefault("replica") == $"standby_{standby.Port}");
        Assert.True(lag.Value >= 0);
        Assert.Equal(1, Assert.Single(metrics, m => m.Name == "phood_replica_streaming" && m.Labels.GetValueOrDefault("replica") == $"standby_{standby.Port}").Value);
    }
}
