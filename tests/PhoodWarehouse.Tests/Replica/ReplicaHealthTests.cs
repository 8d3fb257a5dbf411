using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Tests.Replica;

/// <summary>
/// Get-WhHealth -Check Replicas as whadmin (who cannot read pg_stat_replication's columns: setup-database.sql gives it
/// public.wh_streaming_replicas()): each streaming replica with its replay lag, and hot_standby_feedback as the
/// primary can know it (the standby reports an xmin).
/// </summary>
[Collection(ReplicaCollection.Name)]
public sealed class ReplicaHealthTests(ReplicatedServer server)
{
    [Fact]
    public async Task Get_WhHealth_reports_each_streaming_replica_its_replay_lag_and_whether_feedback_is_on()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var standby = server.Standby;
        using var noFeedback = server.Cluster!.StartStandby(new LocalStandbyOptions { HotStandbyFeedback = false });
        // A standby reports (or, with feedback off, clears) its xmin within wal_receiver_status_interval of connecting.
        var replicas = await ReplicasWhenBothReportedAsync(wh);

        Assert.Equal(2, replicas.Count);
        var on = Assert.Single(replicas, r => r.Value.Contains("hot_standby_feedback on"));
        Assert.Equal(WhHealthStatus.Ok, on.Status);
        Assert.StartsWith("streaming, replay lag", on.Value);
        Assert.Contains("streaming", on.Threshold);
        var off = Assert.Single(replicas, r => r.Value.Contains("hot_standby_feedback off"));
        Assert.Equal(WhHealthStatus.Warning, off.Status);
        Assert.Contains("set hot_standby_feedback = on on the standby", off.Message);
        Assert.Equal($"standby_{standby.Port}", on.Target);
        Assert.Equal($"standby_{noFeedback.Port}", off.Target);

        noFeedback.Dispose();
        var one = await ReplicasAsync(wh, r => r.Count == 1);
        Assert.Equal(WhHealthStatus.Ok, Assert.Single(one).Status);
    }

    private static Task<IReadOnlyList<WhHealthCheck>> ReplicasWhenBothReportedAsync(WarehouseScenario wh) =>
        ReplicasAsync(wh, r => r.Count == 2 && r.Count(c => c.Value.Contains("hot_standby_feedback on")) == 1);

    private static async Task<IReadOnlyList<WhHealthCheck>> ReplicasAsync(WarehouseScenario wh, Func<IReadOnlyList<WhHealthCheck>, bool> done)
    {
        IReadOnlyList<WhHealthCheck> last = [];
        for (var attempt = 0; attempt < 150; attempt++)
        {
            var result = wh.Run("Get-WhHealth -Check Replicas");
            Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
            last = result.All<WhHealthCheck>();
            if (done(last)) return last;
            await Task.Delay(200);
        }
        return last;
    }
}
