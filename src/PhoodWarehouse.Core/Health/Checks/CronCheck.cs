using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>pg_cron: its run history's size (CronHistory), or the failed runs of the last 24 hours and jobs that target another server (CronFailures).</summary>
internal sealed class CronCheck(bool history) : HealthCheck
{
    public override string Name => history ? HealthCheckNames.CronHistory : HealthCheckNames.CronFailures;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        var check = history ? HealthCheckNames.CronHistory : HealthCheckNames.CronFailures;
        var threshold = history ? $"warning {limits.CronHistoryWarningRows} rows"
            : $"warning 1, critical {limits.CronFailuresCritical} failed runs in 24 h";
        var available = await Db.ScalarAsync<bool>(db,
            """
            SELECT EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                           WHERE e.extname = 'pg_cron' AND has_schema_privilege(n.oid, 'USAGE'))
            """, cancel);
        if (!available)
            return [Ok(check, "pg_cron absent", threshold,
                "pg_cron is not installed in this database, so there are no schedules to check (see docs/schedules.md to enable them).")];
        if (history)
        {
            var rows = await Db.ScalarAsync<long>(db, "SELECT count(*) FROM cron.job_run_details", cancel);
            var over = rows >= limits.CronHistoryWarningRows;
            return [new WhHealthCheck
            {
                Check = check, Status = over ? WhHealthStatus.Warning : WhHealthStatus.Ok, Value = $"{rows} rows", Threshold = threshold,
                Message = over
                    ? "pg_cron keeps every run forever: Clear-WhCronJobRun -OlderThan 30.00:00:00 (or schedule it)."
                    : "Within limits.",
            }];
        }
        var elsewhere = await Db.ReadAllAsync(db,
            """
            SELECT j.jobname || ' (' || j.nodename || ':' || j.nodeport || ')' FROM cron.job j
            WHERE j.username = current_user AND NOT _wh.cron_job_targets_here(j.nodename, j.nodeport) ORDER BY j.jobname
            """, r => r.GetString(0), cancel);
        if (elsewhere.Count > 0)
            return [new WhHealthCheck
            {
                Check = check, Status = WhHealthStatus.Critical, Value = $"{elsewhere.Count} job(s) run against another server", Threshold = "every job targets this server",
                Message = $"{string.Join(", ", elsewhere.Take(5))}: these jobs connect to another server (a restore or a move kept their old host and port), " +
                          "so they refresh another warehouse and this one goes stale. Schedule them here: Register-WhCronJob with the same name, " +
                          "or SELECT _wh.retarget_cron_jobs(); (Install-WhWarehouse does it too).",
            }];
        var failures = await Db.ReadAllAsync(db,
            """
            SELECT coalesce(j.jobname, 'job ' || r.jobid), r.start_time, coalesce(r.return_message, '')
            FROM cron.job_run_details r LEFT JOIN cron.job j ON j.jobid = r.jobid
            WHERE r.status = 'failed' AND r.start_time > now() - interval '24 hours'
            ORDER BY r.start_time DESC
            """, r => (Job: r.GetString(0), Start: r.GetDateTime(1), Message: r.GetString(2)), cancel);
        if (failures.Count == 0) return [Ok(check, "0 failed runs", threshold, "No pg_cron run failed in the last 24 hours.")];
        var jobs = failures.Select(f => f.Job).Distinct().ToList();
        return [new WhHealthCheck
        {
            Check = check, Status = failures.Count >= limits.CronFailuresCritical ? WhHealthStatus.Critical : WhHealthStatus.Warning,
            Value = $"{failures.Count} failed runs ({jobs.Count} job(s))", Threshold = threshold,
            Message = $"Failed: {string.Join(", ", jobs.Take(5))}; latest: {failures[0].Message.Trim()}. " +
                      "Get-WhCronJobRun -Failed shows the errors; fix the source (Test-WhTenantConnection), then load the missed days with Invoke-WhMvBackfill.",
        }];
    }
}
