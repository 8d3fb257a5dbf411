using Npgsql;

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
