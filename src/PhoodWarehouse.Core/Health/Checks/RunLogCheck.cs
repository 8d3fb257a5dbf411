using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>The run log against its retention.</summary>
internal sealed class RunLogCheck : HealthCheck
{
    public override string Name => HealthCheckNames.RunLog;

    /// <summary>
    /// The run log keeps run_log_retention_days (warehouse_info, default 90); the scheduled refresh prunes it once a
    /// day. Rows older than that mean nothing prunes it (no job, or jobs failing): a Warning.
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var (rows, older, days) = (await Db.ReadAllAsync(db,
            """
            WITH k AS MATERIALIZED (SELECT _wh.run_log_retention_days() AS days,
                                           _wh.now() - make_interval(days => _wh.run_log_retention_days() + 1) AS cutoff)
            SELECT (SELECT count(*) FROM _wh.run_log), (SELECT count(*) FROM _wh.run_log r WHERE r.logged_at < k.cutoff), k.days
            FROM k
            """, r => (r.GetInt64(0), r.GetInt64(1), r.GetInt32(2)), cancel))[0];
        var threshold = $"no row older than {days} days (warehouse_info 'run_log_retention_days')";
        if (older == 0) return [Ok(HealthCheckNames.RunLog, $"{rows} rows", threshold, "Within its retention.")];
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.RunLog, Status = WhHealthStatus.Warning, Value = $"{rows} rows, {older} older than {days} days", Threshold = threshold,
            Message = "The run log grows past its retention: no scheduled refresh prunes it (Register-WhCronJob schedules one), or they fail (Get-WhCronJobRun -Failed). Prune it now: SELECT _wh.prune_run_log();",
        }];
    }
}
