namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// "Today" as the warehouse sees it, asked of the server every time: never a static field (a run that crosses
/// midnight keeps yesterday's) nor the host's DateTime.Today (a server in another zone has another day). In a
/// warehouse database it is <c>_wh.now()::date</c>, or <c>_wh.tenant_today(schema)</c> for a tenant with its own
/// time zone; in any other database (a tenant's source) the server's CURRENT_DATE, which is the same day in a
/// session that does not move the warehouse's clock (phood.now).
/// </summary>
public static class WarehouseClock
{
    /// <summary>The warehouse's today (<c>_wh.now()::date</c>), or the tenant's today when <paramref name="tenantSchema"/> is given.</summary>
    public static async Task<DateOnly> TodayAsync(string warehouseConnectionString, string? tenantSchema = null)
    {
        return tenantSchema is null
            ? await ReadAsync<DateOnly>(warehouseConnectionString, "SELECT _wh.now()::date")
            : await ReadAsync<DateOnly>(warehouseConnectionString, "SELECT _wh.tenant_today(@s)", tenantSchema);
    }

    /// <summary>The same, for a constructor or a property (no await there).</summary>
    public static DateOnly Today(string warehouseConnectionString) => Read<DateOnly>(warehouseConnectionString, "SELECT _wh.now()::date");

    /// <summary>The server's CURRENT_DATE, for a database without the warehouse (a tenant's source, or before one exists).</summary>
    public static DateOnly ServerToday(string connectionString) => Read<DateOnly>(connectionString, "SELECT CURRENT_DATE");

    /// <summary>The server's now, in UTC, for expectations about schedules (pg_cron runs on the server's clock).</summary>
    public static Task<DateTime> ServerUtcNowAsync(string connectionString)
        => ReadAsync<DateTime>(connectionString, "SELECT now()");

    private static T Read<T>(string connectionString, string sql)
    {
        using var db = new NpgsqlConnection(connectionString);
        db.Open();
        using var command = new NpgsqlCommand(sql, db);
        using var reader = command.ExecuteReader();
        reader.Read();
        return reader.GetFieldValue<T>(0);
    }

    private static async Task<T> ReadAsync<T>(string connectionString, string sql, string? schema = null)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        if (schema is not null) command.Parameters.AddWithValue("s", schema);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return reader.GetFieldValue<T>(0);
    }
}
