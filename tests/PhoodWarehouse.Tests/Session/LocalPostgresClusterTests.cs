using Npgsql;
using PhoodWarehouse.Core.Local;
using Xunit;

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
}
