using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Statements slow on average (pg_stat_statements).</summary>
internal sealed class SlowStatementsCheck : HealthCheck
{
    public override string Name => HealthCheckNames.SlowStatements;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        var threshold = $"mean {limits.SlowStatementMilliseconds:0} ms";
        var schema = await Db.ScalarAsync<string>(db,
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'", cancel);
        const string enable = "To watch slow statements: shared_preload_libraries = 'pg_stat_statements' (restart), then CREATE EXTENSION pg_stat_statements; in this database as a superuser.";
        if (schema is null)
            return [Ok(HealthCheckNames.SlowStatements, "not available", threshold, "pg_stat_statements is not installed in this database, so slow statements are not checked. " + enable)];
        try
        {
            var rows = await Db.ReadAllAsync(db,
                $"""
                SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 100), calls, round(mean_exec_time::numeric, 1)::float8
                FROM {Db.Identifier(schema)}.pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND mean_exec_time > @ms
                ORDER BY mean_exec_time DESC
                """, r => (Query: r.GetString(0), Calls: r.GetInt64(1), Mean: r.GetDouble(2)), cancel, ("ms", limits.SlowStatementMilliseconds));
            if (rows.Count == 0) return [Ok(HealthCheckNames.SlowStatements, "0 statements", threshold, "No statement is slow on average.")];
            return [new WhHealthCheck
            {
                Check = HealthCheckNames.SlowStatements, Status = WhHealthStatus.Warning, Value = $"{rows.Count} statement(s)", Threshold = threshold,
                Message = "Slowest: " + string.Join(" | ", rows.Take(3).Select(r => $"{r.Mean} ms × {r.Calls}: {r.Query}")) +
                          ". EXPLAIN (ANALYZE) them; BI queries on public views plan every daily view (see LockHeadroom): filter on a tenant view and a date range.",
            }];
        }
        catch (PostgresException error)
        {
            return [Ok(HealthCheckNames.SlowStatements, "not available", threshold, $"pg_stat_statements is installed but cannot be read ({error.MessageText}). " + enable)];
        }
    }
}
