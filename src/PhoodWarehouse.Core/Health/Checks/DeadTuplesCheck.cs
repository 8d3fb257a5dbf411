using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Tables autovacuum is behind on.</summary>
internal sealed class DeadTuplesCheck : HealthCheck
{
    public override string Name => HealthCheckNames.DeadTuples;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        // Dead rows that autovacuum takes care of are no news: the module itself makes them every minute (today's rows
        // replaced in <template>_recent). A table is reported when it is past autovacuum's own trigger for it (its
        // threshold + scale factor × rows, the table's own settings first) and no vacuum has reached it in the last ten
        // autovacuum rounds (autovacuum_naptime): autovacuum is off for it, or behind.
        var rows = await Db.ReadAllAsync(db,
            """
            SELECT format('%I.%I', s.schemaname, s.relname), s.n_dead_tup, s.n_live_tup,
                   round(s.n_dead_tup * 100.0 / greatest(s.n_dead_tup + s.n_live_tup, 1), 1)::float8
            FROM pg_catalog.pg_stat_user_tables s
            JOIN pg_catalog.pg_class c ON c.oid = s.relid
            CROSS JOIN LATERAL (
                SELECT coalesce((SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) o WHERE o.option_name = 'autovacuum_vacuum_threshold'),
                                pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8)
                       + coalesce((SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) o WHERE o.option_name = 'autovacuum_vacuum_scale_factor'),
                                  pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8) * greatest(c.reltuples, 0) AS dead_trigger) t
            WHERE s.n_dead_tup >= @min AND s.n_dead_tup * 100.0 / greatest(s.n_dead_tup + s.n_live_tup, 1) >= @pct
              AND s.n_dead_tup > t.dead_trigger
              AND coalesce(greatest(s.last_autovacuum, s.last_vacuum), '-infinity')
                  < pg_catalog.now() - 10 * pg_catalog.current_setting('autovacuum_naptime')::interval
            ORDER BY s.n_dead_tup DESC, 1
            """, r => (Table: r.GetString(0), Dead: r.GetInt64(1), Live: r.GetInt64(2), Percent: r.GetDouble(3)), cancel,
            ("min", limits.DeadTupleMinimum), ("pct", limits.DeadTupleWarningPercent));
        var threshold = $"{limits.DeadTupleWarningPercent}% dead rows and at least {limits.DeadTupleMinimum}, past autovacuum's trigger, no vacuum in 10 × autovacuum_naptime";
        if (rows.Count == 0) return [Ok(HealthCheckNames.DeadTuples, "0 tables", threshold, "No table or view needs a VACUUM.")];
        var worst = rows.Take(5).Select(r => $"{r.Table} ({r.Dead} dead, {r.Percent}%)");
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.DeadTuples, Status = WhHealthStatus.Warning, Value = $"{rows.Count} table(s)", Threshold = threshold,
            Message = $"Autovacuum is behind on {string.Join(", ", worst)}: past its trigger, and not vacuumed in the last ten autovacuum rounds. Run VACUUM (ANALYZE) on them, e.g. VACUUM (ANALYZE) {rows[0].Table}; and check autovacuum's settings if it recurs.",
        }];
    }
}
