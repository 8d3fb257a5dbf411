namespace PhoodWarehouse.Core.Warehouse;

/// <summary>
/// Free connection slots of one server, as its login sees them: max_connections minus the slots reserved for
/// superusers (superuser_reserved_connections, and reserved_connections from PostgreSQL 16; none when the login is a
/// superuser) minus the client backends in use, not counting <see cref="Own"/> (the connection the reading goes over,
/// which the work reuses or closes). Idle pooled sessions count as in use: a pool of another process cannot be told
/// from ours, so the figure errs on the safe side.
/// </summary>
public sealed record ConnectionHeadroom(string Server, string Login, int MaxConnections, int Reserved, int InUse, int Own)
{
    public int Free => Math.Max(0, MaxConnections - Reserved - Math.Max(0, InUse - Own));

    /// <summary>What the slots are: "max_connections 30 - 3 reserved - 26 in use by other sessions".</summary>
    public string Sum => $"max_connections {MaxConnections} - {Reserved} reserved for superusers - {Math.Max(0, InUse - Own)} in use by other sessions";

    /// <summary>Reads the warehouse's slots over <paramref name="db"/>.</summary>
    public static async Task<ConnectionHeadroom> ReadWarehouseAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT current_user::text, {SlotsSql}", db);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        return new ConnectionHeadroom("the warehouse", reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), 1);
    }

    /// <summary>
    /// Reads a source server's slots through dblink and the tenant's source login (its foreign server and user
    /// mapping). Throws what dblink throws when the server or its settings cannot be read.
    /// </summary>
    public static async Task<ConnectionHeadroom> ReadSourceAsync(NpgsqlConnection db, string connectionName, string server, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            "SELECT * FROM public.dblink(_wh.get_tenant_connection_string(@c), @q) AS t(login text, max_connections int, reserved int, in_use int)", db);
        command.Parameters.AddWithValue("c", connectionName);
        command.Parameters.AddWithValue("q", $"SELECT current_user::text, {SlotsSql}");
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        return new ConnectionHeadroom(server, reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), 1);
    }

    // Rows of other logins' sessions are visible to anyone, their details are not (backend_type is NULL): a hidden
    // row with a database (datid) is a client backend (or an autovacuum worker, which takes no connection slot).
    private const string SlotsSql =
        """
        current_setting('max_connections')::int,
        CASE WHEN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN 0
             ELSE current_setting('superuser_reserved_connections')::int + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int END,
        (SELECT count(*)::int FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.datid IS NOT NULL))
        """;
}
