using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Recorded times after the server's clock.</summary>
internal sealed class FutureTimesCheck : HealthCheck
{
    public override string Name => HealthCheckNames.FutureTimes;

    /// <summary>
    /// Captures, checks, verifications and run-log rows stamped after the server's clock: a session that moved the SQL
    /// layer's clock (phood.now, honoured only in a warehouse marked for tests) or a server clock that went back. Every
    /// freshness and verification answer read from them would be wrong.
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var (days, runs) = (await Db.ReadAllAsync(db,
            """
            SELECT (SELECT count(*) FROM _wh.day_state s
                    WHERE greatest(s.captured_at, s.last_checked_at, s.verified_at) > now() + interval '1 minute'),
                   (SELECT count(*) FROM _wh.run_log r WHERE r.logged_at > now() + interval '1 minute')
            """, r => (r.GetInt64(0), r.GetInt64(1)), cancel))[0];
        const string threshold = "no capture, check or run after the server's clock (now())";
        if (days == 0 && runs == 0) return [Ok(HealthCheckNames.FutureTimes, "none", threshold, "Every recorded time is in the past.")];
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.FutureTimes, Status = WhHealthStatus.Warning, Value = $"{days} days, {runs} run-log rows", Threshold = threshold,
            Message = "Times after the server's clock are recorded: the server's clock went back, or a session moved the warehouse's clock " +
                      "(SET phood.now, honoured only in a warehouse marked for tests). Freshness and LastVerified read from them are wrong: " +
                      "check SELECT now() on the server, then load and check the days again (Invoke-WhMvBackfill -Force, Test-WhMv).",
        }];
    }
}
