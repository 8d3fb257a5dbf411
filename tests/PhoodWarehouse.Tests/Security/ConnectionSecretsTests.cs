namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, items 4 and 5: no write to _wh.tenant_connections through SQL leaves a password with a server that points
/// elsewhere, or a server and mapping without their row; and a password rotation that fails (cancelled behind a held
/// lock) leaves no password in the server log.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ConnectionSecretsTests(PostgresServer server)
{
    private const string ServerOptions =
        "SELECT array_to_string(srvoptions, ',') FROM pg_foreign_server WHERE srvname = 'wh_' || $1";

    [Fact]
    public async Task No_insert_update_or_truncate_repoints_a_server_or_leaves_one_behind()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 1, rowsPerDay: 1);
        await using var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin");
        var options = await wh.ScalarAsync<string>(ServerOptions, shared.Connection);
        Assert.Contains($"port={shared.Source.Port}", options);
        var other = shared.Source.Port + 1;

        await wh.ExecAsync(
            $"INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username) VALUES ($1, '127.0.0.1', {other}, 'x', 'y') ON CONFLICT DO NOTHING",
            shared.Connection);
        Assert.Equal(options, await wh.ScalarAsync<string>(ServerOptions, shared.Connection));
        await wh.FailsAsync(
            $"INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username) VALUES ($1, '127.0.0.1', {other}, 'x', 'y')",
            ["23505"], shared.Connection);
        Assert.Equal(options, await wh.ScalarAsync<string>(ServerOptions, shared.Connection));
        // ON CONFLICT DO UPDATE becomes the UPDATE, whose rule holds: a moved source needs its password in the same statement.
        await wh.FailsAsync(
            $"INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username) VALUES ($1, '127.0.0.1', {other}, 'x', 'y') " +
            "ON CONFLICT (tenant_name) DO UPDATE SET port = EXCLUDED.port",
            ["22023"], shared.Connection);
        Assert.Equal(options, await wh.ScalarAsync<string>(ServerOptions, shared.Connection));
        Assert.Equal(shared.Source.Port, await wh.ScalarAsync<int>("SELECT port FROM _wh.tenant_connections WHERE tenant_name = $1", shared.Connection));

        var refused = await wh.FailsAsync("TRUNCATE _wh.tenant_connections", ["0A000"]);
        Assert.Contains("DELETE", refused.Hint);
        Assert.Equal(options, await wh.ScalarAsync<string>(ServerOptions, shared.Connection));
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_user_mappings WHERE srvname = 'wh_' || $1", shared.Connection));
    }

    [Fact]
    public async Task A_rotation_cancelled_behind_a_held_lock_leaves_no_password_in_the_server_log()
    {
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 1);
        using (var wh = await WarehouseScenario.StartAsync(server, database)) wh.AddTenant("rotate_a", source);
        var secret = "rotation-" + Guid.NewGuid().ToString("N");

        // Another session holds the user mapping's row: the rotation waits behind it until its statement is cancelled.
        await using var holder = await server.OpenAsync(database, "whadmin");
        await using var held = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("ALTER USER MAPPING FOR whadmin SERVER wh_rotate_a OPTIONS (SET password 'held')", holder, held))
            await hold.ExecuteNonQueryAsync();

        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = server.ConnectionString(database, "whadmin"),
            ["c"] = WarehouseScenario.Credential(source.ReaderUser, secret),
        };
        var rotation = shell.Run(
            "Connect-WhWarehouse -ConnectionString $cs -CommandTimeout 2 | Out-Null; Set-WhTenant rotate_a -SourceCredential $c -Confirm:$false",
            variables);
        Assert.False(rotation.Succeeded);
        Assert.DoesNotContain(secret, rotation.FirstError!.ToString());
        await held.RollbackAsync();

        await using (var su = await server.OpenAsync("postgres"))
        await using (var flush = new NpgsqlCommand("SELECT pg_sleep(0.2)", su))
            await flush.ExecuteNonQueryAsync();
        var log = await File.ReadAllTextAsync(server.Cluster!.LogFile);
        Assert.Contains("could not set the user mapping of server wh_rotate_a", log);
        Assert.DoesNotContain(secret, log);
    }
}
