using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Streaming replicas: state, replay lag, hot_standby_feedback.</summary>
internal sealed class ReplicasCheck : HealthCheck
{
    public override string Name => HealthCheckNames.Replicas;

    /// <summary>
    /// Each streaming replica of this server: state, replay lag, and whether hot_standby_feedback is on. The setting is
    /// the standby's and no view of the primary shows it; a standby with feedback on reports an xmin, which
    /// pg_stat_replication shows as backend_xmin, so "feedback on" means exactly that (a standby that just connected
    /// reports within wal_receiver_status_interval, 10 s by default). Read through public.wh_streaming_replicas()
    /// (setup-database.sql): pg_stat_replication hides these columns from whadmin.
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        var threshold = $"streaming; replay lag warning {limits.ReplicaLagWarningSeconds:0.#} s, critical {limits.ReplicaLagCriticalSeconds:0.#} s; hot_standby_feedback on";
        var viaFunction = await Db.ScalarAsync<bool>(db,
            "SELECT coalesce(has_function_privilege(to_regprocedure('public.wh_streaming_replicas()'), 'EXECUTE'), false)", cancel);
        var rows = await Db.ReadAllAsync(db, viaFunction
                ? "SELECT application_name, client_addr, state, replay_lag, replay_lag_bytes::float8, feedback_xmin FROM public.wh_streaming_replicas()"
                : """
                  SELECT application_name::text, host(client_addr), state, replay_lag, pg_wal_lsn_diff(sent_lsn, replay_lsn)::float8, backend_xmin IS NOT NULL
                  FROM pg_stat_replication ORDER BY application_name, pid
                  """,
            r => (Name: r.IsDBNull(0) ? null : r.GetString(0), Address: r.IsDBNull(1) ? null : r.GetString(1), State: r.IsDBNull(2) ? null : r.GetString(2),
                  Lag: r.IsDBNull(3) ? (TimeSpan?)null : r.GetTimeSpan(3), Bytes: r.IsDBNull(4) ? (double?)null : r.GetDouble(4), Feedback: !r.IsDBNull(5) && r.GetBoolean(5)),
            cancel);
        if (rows.Count == 0)
            return [Ok(HealthCheckNames.Replicas, "no streaming replicas", threshold, "No standby streams from this server (docs/scale-out.md: BI on a replica).")];
        return rows.Select(r =>
        {
            var target = string.Join(" ", new[] { r.Name, r.Address is null ? null : $"({r.Address})" }.Where(p => !string.IsNullOrEmpty(p)));
            if (r.State is null)
                return new WhHealthCheck
                {
                    Check = HealthCheckNames.Replicas, Target = target.Length == 0 ? null : target, Status = WhHealthStatus.Warning,
                    Value = "details hidden", Threshold = threshold,
                    Message = "A standby streams from this server, but this login cannot see its state: run Install-WhWarehouse as a superuser " +
                              "(it adds public.wh_streaming_replicas() for whadmin), or connect as a member of pg_read_all_stats.",
                };
            var seconds = r.Lag?.TotalSeconds ?? 0;
            var status = r.State != "streaming" || !r.Feedback || seconds >= limits.ReplicaLagWarningSeconds
                ? (seconds >= limits.ReplicaLagCriticalSeconds ? WhHealthStatus.Critical : WhHealthStatus.Warning)
                : WhHealthStatus.Ok;
            var lag = r.Lag is { } l ? string.Create(CultureInfo.InvariantCulture, $"replay lag {l.TotalSeconds:0.###} s") : "replay lag none (caught up)";
            var advice = new List<string>();
            if (r.State != "streaming") advice.Add($"it is {r.State}, not streaming: see the standby's log");
            if (!r.Feedback) advice.Add("it reports no xmin, so hot_standby_feedback is off (or it connected seconds ago): set hot_standby_feedback = on on the standby, or its BI queries are cancelled by vacuum on the primary");
            if (seconds >= limits.ReplicaLagWarningSeconds) advice.Add("replay is behind: a long query on the standby holds replay (max_standby_streaming_delay), or the standby cannot keep up");
            return new WhHealthCheck
            {
                Check = HealthCheckNames.Replicas, Target = target.Length == 0 ? null : target, Status = status,
                Value = $"{r.State}, {lag} ({Size((long)(r.Bytes ?? 0))} behind), hot_standby_feedback {(r.Feedback ? "on" : "off")}",
                Threshold = threshold,
                Message = advice.Count == 0 ? "Streaming, caught up, hot_standby_feedback on (it reports an xmin)." : string.Join("; ", advice) + ".",
            };
        }).ToList();
    }
}
