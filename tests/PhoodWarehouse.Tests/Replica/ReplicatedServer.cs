namespace PhoodWarehouse.Tests.Replica;

/// <summary>
/// A throwaway primary with a streaming hot standby (pg_basebackup -R, hot_standby_feedback on, PostgreSQL's default
/// max_standby_streaming_delay), whatever PHOOD_TEST_PG says: a standby needs a cluster of our own. pg_cron is not
/// preloaded (nothing here schedules). Both are stopped and deleted when the run ends.
/// </summary>
public sealed class ReplicatedServer : Infrastructure.PostgresServer
{
    public LocalPostgresCluster Standby => Cluster!.Standbys.Single();

    protected override LocalPostgresCluster? StartOwnCluster()
    {
        var primary = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        try
        {
            primary.StartStandby();
            return primary;
        }
        catch
        {
            primary.Dispose();
            throw;
        }
    }

    /// <summary>A connection string to the standby, as <see cref="Infrastructure.PostgresServer.ConnectionString"/> gives for the primary.</summary>
    public string StandbyConnectionString(string database, string? user = null) =>
        new NpgsqlConnectionStringBuilder(ConnectionString(database, user)) { Port = Standby.Port }.ConnectionString;
}

[CollectionDefinition(Name)]
public sealed class ReplicaCollection : ICollectionFixture<ReplicatedServer>
{
    public const string Name = "replica";
}
