namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, item 2: dblink_connect_u (and every *_u function) lets its caller log in as any role that a trust or peer
/// socket admits; pg_cron's socket (cron.host) is trust on these clusters. whadmin can call none of them, and dblink's
/// safe functions insist on a password, so whadmin cannot reach the local server as another role.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class UnsafeDblinkTests(PostgresServer server)
{
    [Fact]
    public async Task Whadmin_cannot_log_in_as_another_role_through_the_trust_socket_with_any_dblink_function()
    {
        var database = await server.CreateWarehouseAsync();
        var socket = server.Cluster!.SocketDirectory;
        var target = $"host={socket} port={server.Port} user=postgres dbname={database}";
        await using var wh = await server.OpenAsync(database, "whadmin");

        var unsafeCalls = new[]
        {
            $"SELECT public.dblink_connect_u('x', '{target}')",
            $"SELECT public.dblink_connect_u('{target}')",
        };
        foreach (var sql in unsafeCalls)
        {
            await using var command = new NpgsqlCommand(sql, wh);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteScalarAsync());
            Assert.Equal("42501", refused.SqlState); // permission denied for function dblink_connect_u
        }

        // The safe ones refuse a connection that did not use a password (the trust socket).
        await using (var safe = new NpgsqlCommand($"SELECT public.dblink_exec('{target}', 'ALTER ROLE whadmin SUPERUSER')", wh))
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => safe.ExecuteScalarAsync());
            Assert.Equal("2F003", refused.SqlState); // password is required
        }

        await using var su = await server.OpenAsync(database);
        Assert.Equal(0L, await PostgresServer.Scalar(su,
            """
            SELECT count(*) FROM pg_proc p, unnest(ARRAY['whadmin', 'phood_ro', 'public']) r
            WHERE p.proname ~ '^dblink.*_u$' AND has_function_privilege(r, p.oid, 'EXECUTE')
            """));
        Assert.False((bool)(await PostgresServer.Scalar(su, "SELECT rolsuper FROM pg_roles WHERE rolname = 'whadmin'"))!);
    }
}
