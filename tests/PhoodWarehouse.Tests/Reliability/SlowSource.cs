namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Makes a tenant source slow (every query on phood_foodlogsum waits) or fail for one day, by putting a view
/// in place of the table; <see cref="RestoreAsync"/> puts the table back.
/// </summary>
public static class SlowSource
{
    public static Task MakeSlowAsync(string sourceConnectionString, string readerUser, double seconds) =>
        ExecuteAsync(sourceConnectionString,
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE VIEW phood_foodlogsum AS
              SELECT f.* FROM foodlog_data f, (SELECT pg_sleep({seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)})) AS wait;
            GRANT SELECT ON phood_foodlogsum TO "{readerUser}";
            """);

    /// <summary>
    /// Every read of the source waits at a gate (a shared advisory lock in the source database) while the returned
    /// <see cref="SourceGate"/> holds it shut; the readers waiting there show in pg_locks. Dispose opens it for good.
    /// </summary>
    public static async Task<SourceGate> GateAsync(string sourceConnectionString, string readerUser)
    {
        await ExecuteAsync(sourceConnectionString,
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE VIEW phood_foodlogsum AS
              SELECT f.* FROM foodlog_data f, (SELECT pg_advisory_xact_lock_shared({SourceGate.Key})) AS gate;
            GRANT SELECT ON phood_foodlogsum TO "{readerUser}";
            """);
        return await SourceGate.ShutAsync(sourceConnectionString);
    }

    /// <summary>The source fails for one date only: its weight divides by zero there, every other day reads fine.</summary>
    public static Task FailOneDayAsync(string sourceConnectionString, string readerUser, DateOnly bad) =>
        ExecuteAsync(sourceConnectionString,
            $"""
            ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
            CREATE VIEW phood_foodlogsum AS
              SELECT id, logged_time, location_id, station, food_name, waste_reason, meal_period,
                     CASE WHEN logged_time >= '{bad:yyyy-MM-dd}' AND logged_time < '{bad.AddDays(1):yyyy-MM-dd}' THEN weight / (id - id) ELSE weight END AS weight,
                     cost
              FROM foodlog_data;
            GRANT SELECT ON phood_foodlogsum TO "{readerUser}";
            """);

    public static Task RestoreAsync(string sourceConnectionString) =>
        ExecuteAsync(sourceConnectionString, "DROP VIEW phood_foodlogsum; ALTER TABLE foodlog_data RENAME TO phood_foodlogsum;");

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        // No pooling: the source may have been stopped and restarted since the last call.
        await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The test's hold on a gated source (see <see cref="SlowSource.GateAsync"/>): readers wait until it opens.</summary>
public sealed class SourceGate : IAsyncDisposable
{
    public const long Key = 2020_0004;
    private readonly NpgsqlConnection holder;

    private SourceGate(NpgsqlConnection holder) => this.holder = holder;

    internal static async Task<SourceGate> ShutAsync(string sourceConnectionString)
    {
        var holder = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(sourceConnectionString) { Pooling = false }.ConnectionString);
        await holder.OpenAsync();
        await using (var shut = new NpgsqlCommand($"SELECT pg_advisory_lock({Key})", holder)) await shut.ExecuteNonQueryAsync();
        return new SourceGate(holder);
    }

    /// <summary>How many source reads wait at the gate now.</summary>
    public async Task<long> WaitingAsync()
    {
        await using var count = new NpgsqlCommand(
            $"""
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ((classid::bigint << 32) | objid::bigint) = {Key}
            """, holder);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public async Task OpenAsync()
    {
        await using var open = new NpgsqlCommand($"SELECT pg_advisory_unlock_all()", holder);
        await open.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await OpenAsync();
        await holder.DisposeAsync();
    }
}
