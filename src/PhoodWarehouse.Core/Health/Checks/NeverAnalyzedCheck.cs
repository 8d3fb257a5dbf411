using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Daily views without planner statistics.</summary>
internal sealed class NeverAnalyzedCheck : HealthCheck
{
    public override string Name => HealthCheckNames.NeverAnalyzed;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var views = await Db.ReadAllAsync(db,
            """
            WITH m AS MATERIALIZED (SELECT v.schema_name, v.relation, v.relid FROM _wh.daily_views v WHERE v.kind = 'm')
            SELECT format('%I.%I', m.schema_name, m.relation)
            FROM m  -- (materialized first: otherwise the statistics are asked for every daily name, views included)
            JOIN pg_class c ON c.oid = m.relid
            -- The statistics themselves (pg_stats; reltuples -1: never analyzed), not the activity counters, which a crash
            -- or pg_stat_reset() empties while the statistics stay.
            WHERE c.reltuples < 0
               OR (c.reltuples > 0 AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = m.schema_name AND s.tablename = m.relation))
            ORDER BY 1
            """, r => r.GetString(0), cancel);
        if (views.Count == 0)
            return [Ok(HealthCheckNames.NeverAnalyzed, "0 daily views", "any daily view without statistics", "Every daily view has planner statistics.")];
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.NeverAnalyzed, Status = WhHealthStatus.Warning, Value = $"{views.Count} daily view(s)",
            Threshold = "any daily view without statistics",
            Message = $"No planner statistics for {string.Join(", ", views.Take(5))}{(views.Count > 5 ? ", …" : "")}: BI plans on them are guesses. " +
                      $"Run ANALYZE {string.Join(", ", views.Take(5))}; (or a plain ANALYZE; as whadmin).",
        }];
    }
}
