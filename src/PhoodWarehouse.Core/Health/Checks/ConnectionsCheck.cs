using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Connection slots in use, and the sessions that keep a source connection.</summary>
internal sealed class ConnectionsCheck : HealthCheck
{
    public override string Name => HealthCheckNames.Connections;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        var (open, active, idle, max, reserved) = (await Db.ReadAllAsync(db,
            """
            SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int,
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active')::int,
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle')::int,
                   current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int
            FROM pg_stat_activity
            """, r => (r.GetInt32(0), r.GetInt32(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4)), cancel))[0];
        var (kept, servers) = await KeptDblinksAsync(db, cancel);
        var usable = Math.Max(1, max - reserved);
        var percent = 100.0 * open / usable;
        var status = percent >= limits.ConnectionsCriticalPercent ? WhHealthStatus.Critical
            : percent >= limits.ConnectionsWarningPercent ? WhHealthStatus.Warning : WhHealthStatus.Ok;
        var keptNote = kept == 0 ? "" :
            $" {kept} warehouse session(s) keep a dblink connection to a source ({servers}): idle pooled sessions included, each holds a connection slot on that " +
            "source server until it loads from another one, closes it (SELECT _wh.close_session_dblinks()) or ends.";
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.Connections, Status = status,
            Value = $"{open} of {usable} ({percent:0}%, {active} active, {idle} idle; {kept} keep a source connection)",
            Threshold = $"warning {limits.ConnectionsWarningPercent}%, critical {limits.ConnectionsCriticalPercent}% of max_connections - superuser_reserved_connections",
            Message = (status == WhHealthStatus.Ok
                ? "Within limits."
                : "Close to max_connections: look for idle sessions (SELECT usename, application_name, state FROM pg_stat_activity), lower -ThrottleLimit of backfills, put a pooler (PgBouncer) in front of BI tools, or raise max_connections (restart; raise max_locks_per_transaction's budget with it).")
                + keptNote,
        }];
    }

    /// <summary>
    /// Live warehouse sessions that keep a dblink connection to a source (_wh.kept_dblinks, written by
    /// _wh.session_dblink; a warehouse installed before it has none to show), and the foreign servers they reach.
    /// </summary>
    private static async Task<(int Kept, string Servers)> KeptDblinksAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        if (!await Db.ScalarAsync<bool>(db, "SELECT to_regclass('_wh.kept_dblinks') IS NOT NULL", cancel)) return (0, "");
        return (await Db.ReadAllAsync(db,
            """
            SELECT count(*)::int, coalesce(string_agg(DISTINCT k.server_name, ', '), '')
            FROM _wh.kept_dblinks k
            JOIN pg_stat_activity a ON a.pid = k.pid
                                   AND (a.backend_start IS NULL OR k.backend_start IS NULL OR a.backend_start = k.backend_start)
            """, r => (r.GetInt32(0), r.GetString(1)), cancel))[0];
    }
}
