namespace PhoodWarehouse.Core.Connections;

/// <summary>The <c>_wh</c> schema version the connected database has (null: not installed), read when a connection is made.</summary>
internal static class WarehouseVersionReader
{
    public static async Task<string?> ReadAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'", connection);
        return await command.ExecuteScalarAsync(cancel) as string;
    }
}
