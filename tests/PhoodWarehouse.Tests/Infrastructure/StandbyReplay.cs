using System.Diagnostics;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// How long a standby of a <see cref="LocalPostgresCluster"/> takes to replay what its primary wrote: what the replica
/// tests wait on. A test helper (the module never waits for a standby), so it lives here, not in Core.
/// </summary>
public static class StandbyReplay
{
    /// <summary>
    /// Waits until <paramref name="standby"/> has replayed everything <paramref name="primaryCluster"/> had written when called, and returns
    /// how long that took: the replay lag of the moment.
    /// </summary>
    public static async Task<TimeSpan> WaitForReplayAsync(this LocalPostgresCluster primaryCluster, LocalPostgresCluster standby, TimeSpan timeout, CancellationToken cancel = default)
    {
        if (standby.Primary != primaryCluster)
            throw new ArgumentException("Not a standby of this cluster.", nameof(standby));
        var started = Stopwatch.StartNew();
        await using var primary = new NpgsqlConnection(primaryCluster.ConnectionString());
        await primary.OpenAsync(cancel);
        // The insert position, not the write position: with synchronous_commit off (these clusters) a commit may not
        // be written yet, and the standby replays it only once the WAL writer has flushed it.
        await using var target = new NpgsqlCommand("SELECT pg_current_wal_insert_lsn()::text", primary);
        var lsn = (string)(await target.ExecuteScalarAsync(cancel))!;
        await using var replica = new NpgsqlConnection(standby.ConnectionString());
        await replica.OpenAsync(cancel);
        await using var replayed = new NpgsqlCommand("SELECT coalesce(pg_last_wal_replay_lsn() >= @lsn::pg_lsn, false)", replica);
        replayed.Parameters.AddWithValue("lsn", lsn);
        while (!(bool)(await replayed.ExecuteScalarAsync(cancel))!)
        {
            if (started.Elapsed > timeout)
                throw new TimeoutException($"The standby on port {standby.Port} had not replayed {lsn} after {timeout.TotalSeconds:0} s.");
            await Task.Delay(20, cancel);
        }
        return started.Elapsed;
    }
}
