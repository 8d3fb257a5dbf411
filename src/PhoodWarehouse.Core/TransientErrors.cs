namespace PhoodWarehouse.Core;

/// <summary>
/// Which errors are transient (worth waiting a moment and trying the same day again), and how long to wait.
/// The same rows as the SQL layer's <c>_wh.transient_error_rules()</c>, which <c>_wh.update_mv_day_isolated</c>
/// (windows, scheduled jobs) reads; a test checks that both hold the same list. Anything else fails at once.
/// </summary>
public static class TransientErrors
{
    /// <summary>too_many_connections, cannot_connect_now (starting up), serialization_failure, deadlock_detected.</summary>
    public static readonly IReadOnlyList<string> SqlStates = ["53300", "57P03", "40001", "40P01"];

    /// <summary>
    /// Text that, in a connection error (SQLSTATE class 08), says the server refused for a passing reason. dblink
    /// reports a refused remote connection as 08001 "could not establish connection" with the server's words in
    /// the detail.
    /// </summary>
    public static readonly IReadOnlyList<string> ConnectionMarkers =
    [
        "remaining connection slots are reserved",
        "sorry, too many clients already",
        "the database system is starting up",
        "the database system is not yet accepting connections",
    ];

    /// <summary>Attempts in all, the first included (the SQL layer makes as many).</summary>
    public const int Attempts = 4;

    public static bool IsTransient(string? sqlState, string? message) =>
        sqlState is not null && (SqlStates.Contains(sqlState) ||
            (sqlState.StartsWith("08", StringComparison.Ordinal) && message is not null &&
             ConnectionMarkers.Any(m => message.Contains(m, StringComparison.OrdinalIgnoreCase))));

    /// <summary>True for a PostgreSQL error (here or wrapped by Npgsql) that <see cref="IsTransient(string?, string?)"/> accepts.</summary>
    public static bool IsTransient(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
            if (e is PostgresException pg) return IsTransient(pg.SqlState, pg.MessageText + " " + pg.Detail);
        return false;
    }

    /// <summary>
    /// The wait after failed attempt <paramref name="attempt"/> (1-based): 0.2 s, 0.6 s, 1.8 s, at most 3 s, each
    /// scaled by a random 50-100 % so that workers refused together do not come back together.
    /// </summary>
    public static TimeSpan DelayAfter(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(3.0, 0.2 * Math.Pow(3, attempt - 1)) * (0.5 + Random.Shared.NextDouble() / 2));
}
