namespace PhoodWarehouse.Tests.Session;

public sealed class LocalPostgresClusterTests
{
    [Fact]
    public async Task A_throwaway_cluster_uses_scram_on_tcp_preloads_pg_cron_and_disappears_on_dispose()
    {
        string folder;
        using (var cluster = LocalPostgresCluster.Start())
        {
            folder = cluster.Folder;
            await using var db = new NpgsqlConnection(cluster.ConnectionString());
            await db.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT current_setting('shared_preload_libraries'), (SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND auth_method = 'scram-sha-256')", db);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Contains("pg_cron", reader.GetString(0));
            Assert.True(reader.GetInt64(1) > 0);

            await using var wrong = new NpgsqlConnection(cluster.ConnectionString(password: "wrong"));
            await Assert.ThrowsAsync<PostgresException>(() => wrong.OpenAsync());
        }
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public async Task A_standby_streams_from_its_primary_with_feedback_on_and_default_delays_and_goes_with_it()
    {
        string primaryFolder, standbyFolder;
        using (var primary = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false }))
        {
            var standby = primary.StartStandby();
            (primaryFolder, standbyFolder) = (primary.Folder, standby.Folder);
            Assert.True(standby.IsStandby);
            Assert.NotEqual(primary.Port, standby.Port);
            Assert.Same(standby, Assert.Single(primary.Standbys));

            await using (var db = new NpgsqlConnection(primary.ConnectionString()))
            {
                await db.OpenAsync();
                await using var write = new NpgsqlCommand("CREATE TABLE replicated AS SELECT 42 AS answer", db);
                await write.ExecuteNonQueryAsync();
            }
            await primary.WaitForReplayAsync(standby, TimeSpan.FromSeconds(60));

            await using (var replica = new NpgsqlConnection(standby.ConnectionString()))
            {
                await replica.OpenAsync();
                await using var read = new NpgsqlCommand(
                    """
                    SELECT pg_is_in_recovery(), (SELECT answer FROM replicated), current_setting('hot_standby_feedback'),
                           current_setting('max_standby_streaming_delay'), current_setting('max_standby_archive_delay')
                    """, replica);
                await using var reader = await read.ExecuteReaderAsync();
                await reader.ReadAsync();
                Assert.True(reader.GetBoolean(0));
                Assert.Equal(42, reader.GetInt32(1));
                Assert.Equal("on", reader.GetString(2));
                Assert.Equal("30s", reader.GetString(3));
                Assert.Equal("30s", reader.GetString(4));
            }
            await using (var db = new NpgsqlConnection(primary.ConnectionString()))
            {
                await db.OpenAsync();
                await using var senders = new NpgsqlCommand("SELECT state FROM pg_stat_replication", db);
                Assert.Equal("streaming", (string?)await senders.ExecuteScalarAsync());
            }
        }
        Assert.False(Directory.Exists(primaryFolder));
        Assert.False(Directory.Exists(standbyFolder));
    }
}
