using System.Globalization;
using PhoodWarehouse.Core.Warehouse;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>
/// The guide's "Monitoring and Health Checks" as checks with a status: sizes, connections, lock headroom of the
/// public views (architecture fact 3), dead rows, slow statements, pg_cron history and failures, freshness of every
/// tenant, daily views without planner statistics, streaming replicas. Read-only; works as whadmin or as a superuser.
/// </summary>
public sealed class HealthInspector(WhConnection connection, ILogger logger)
{
    private const double GB = 1024d * 1024 * 1024;

    public async Task<IReadOnlyList<WhHealthCheck>> RunAsync(IReadOnlyCollection<string> checks, HealthThresholds limits, CancellationToken cancel)
    {
        var wanted = checks.Count == 0 ? HealthCheckNames.All : HealthCheckNames.All.Where(c => checks.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        var unknown = checks.Where(c => !HealthCheckNames.All.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
            throw new WarehouseException("UnknownHealthCheck", WhErrorKind.InvalidArgument,
                $"There is no health check named '{string.Join("', '", unknown)}'. Checks: {string.Join(", ", HealthCheckNames.All)}.", unknown[0]);
        if (connection.WarehouseVersion is null)
            throw new WarehouseException("WarehouseNotInstalled", WhErrorKind.NotInstalled,
                $"The warehouse is not installed in {connection.Target}. Run Install-WhWarehouse (as a superuser), or connect to the warehouse database.", connection.Target);

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        // Freshness and TenantSize are two projections of one reading of the freshness engine (_wh.freshness), read on
        // a second connection while the other checks run on this one, in order; the checks that need the engine's rows
        // are finished at the end, so the run takes the longer of the two connections' work, not their sum.
        Task<List<DailyViews.WhMvFreshness>>? freshness = null;
        if (wanted.Contains(HealthCheckNames.Freshness) || wanted.Contains(HealthCheckNames.TenantSize))
            freshness = ReadFreshnessAsync(limits.FreshnessDays, cancel);
        var pending = new List<Task<IEnumerable<WhHealthCheck>>>();
        foreach (var check in wanted)
        {
            logger.LogInformation("Checking {Check}", check);
            pending.Add(check switch
            {
                HealthCheckNames.TenantSize => TenantSizeChecksAsync(await TenantSizesAsync(db, cancel), freshness!, limits),
                HealthCheckNames.Freshness => FreshnessChecksAsync(freshness!, limits),
                _ => Task.FromResult(check switch
                {
                    HealthCheckNames.DatabaseSize => await DatabaseSizeAsync(db, limits, cancel),
                    HealthCheckNames.Connections => await ConnectionsAsync(db, limits, cancel),
                    HealthCheckNames.LockHeadroom => await LockHeadroomAsync(db, limits, cancel),
                    HealthCheckNames.DeadTuples => await DeadTuplesAsync(db, limits, cancel),
                    HealthCheckNames.SlowStatements => await SlowStatementsAsync(db, limits, cancel),
                    HealthCheckNames.CronHistory => await CronAsync(db, limits, history: true, cancel),
                    HealthCheckNames.CronFailures => await CronAsync(db, limits, history: false, cancel),
                    HealthCheckNames.NeverAnalyzed => await NeverAnalyzedAsync(db, cancel),
                    HealthCheckNames.RunLog => await RunLogAsync(db, cancel),
                    HealthCheckNames.Replicas => await ReplicasAsync(db, limits, cancel),
                    HealthCheckNames.FutureTimes => await FutureTimesAsync(db, cancel),
                    HealthCheckNames.Views => await ViewsAsync(db, cancel),
                    _ => [],
                }),
            });
        }
        var results = new List<WhHealthCheck>();
        foreach (var part in pending) results.AddRange(await part);
        return results;
    }

    private async Task<List<DailyViews.WhMvFreshness>> ReadFreshnessAsync(int days, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        return await DailyViews.DailyViewCatalog.ReadFreshnessAsync(db, days, null, null, cancel);
    }

    private static async Task<IEnumerable<WhHealthCheck>> DatabaseSizeAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        var bytes = await Db.ScalarAsync<long>(db, "SELECT pg_database_size(current_database())", cancel);
        var status = bytes >= limits.DatabaseSizeCriticalGB * GB ? WhHealthStatus.Critical
            : bytes >= limits.DatabaseSizeWarningGB * GB ? WhHealthStatus.Warning : WhHealthStatus.Ok;
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.DatabaseSize, Status = status, Value = Size(bytes),
            Threshold = $"warning {limits.DatabaseSizeWarningGB} GB, critical {limits.DatabaseSizeCriticalGB} GB",
            Message = status == WhHealthStatus.Ok
                ? "Within limits."
                : "The warehouse database is large: drop daily views older than you report on (the guide's 'Clean Up Old Materialized Views'), check the disk's free space, and see TenantSize for the largest tenants.",
        }];
    }

    /// <summary>Each tenant's data and index sizes, from its tables and materialized views (daily views over the compacted table take no space).</summary>
    private static Task<List<(string Tenant, long Data, long Indexes)>> TenantSizesAsync(NpgsqlConnection db, CancellationToken cancel) =>
        ReadAsync(db,
            """
            SELECT t.schema_name, coalesce(sum(pg_table_size(c.oid)), 0)::bigint, coalesce(sum(pg_indexes_size(c.oid)), 0)::bigint
            FROM _wh.tenants t
            LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('m', 'r')
            GROUP BY t.schema_name ORDER BY t.schema_name
            """, r => (Tenant: r.GetString(0), Data: r.GetInt64(1), Indexes: r.GetInt64(2)), cancel);

    /// <summary>The sizes, with each tenant's daily views (both kinds) counted by the freshness engine.</summary>
    private static async Task<IEnumerable<WhHealthCheck>> TenantSizeChecksAsync(List<(string Tenant, long Data, long Indexes)> sizes,
        Task<List<DailyViews.WhMvFreshness>> freshness, HealthThresholds limits)
    {
        var views = (await freshness).GroupBy(f => f.Tenant).ToDictionary(g => g.Key, g => g.Sum(f => f.DailyViewCount));
        var rows = sizes.Select(t => (t.Tenant, t.Data, t.Indexes, Views: views.GetValueOrDefault(t.Tenant))).ToList();
        if (rows.Count == 0)
            return [Ok(HealthCheckNames.TenantSize, "no tenants", $"warning {limits.TenantSizeWarningGB} GB per tenant", "No tenants yet: New-WhTenant adds one.")];
        return rows.Select(t =>
        {
            var over = t.Data + t.Indexes >= limits.TenantSizeWarningGB * GB;
            return new WhHealthCheck
            {
                Check = HealthCheckNames.TenantSize, Target = t.Tenant,
                Status = over ? WhHealthStatus.Warning : WhHealthStatus.Ok,
                Value = $"{Size(t.Data + t.Indexes)} (data {Size(t.Data)}, indexes {Size(t.Indexes)}, {t.Views} daily views)",
                Threshold = $"warning {limits.TenantSizeWarningGB} GB",
                Message = over
                    ? $"Tenant {t.Tenant} is large: drop its daily views older than you report on, or review the template's indexes."
                    : "Within limits.",
            };
        }).ToList();
    }

    private static async Task<IEnumerable<WhHealthCheck>> ConnectionsAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        var (open, active, idle, max, reserved) = (await ReadAsync(db,
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
        return (await ReadAsync(db,
            """
            SELECT count(*)::int, coalesce(string_agg(DISTINCT k.server_name, ', '), '')
            FROM _wh.kept_dblinks k
            JOIN pg_stat_activity a ON a.pid = k.pid
                                   AND (a.backend_start IS NULL OR k.backend_start IS NULL OR a.backend_start = k.backend_start)
            """, r => (r.GetInt32(0), r.GetString(1)), cancel))[0];
    }

    private static async Task<IEnumerable<WhHealthCheck>> LockHeadroomAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        // Planning a query on a view locks the view, every relation it reaches through view rules, and every index of
        // those relations (architecture fact 3). The shared lock table holds
        // max_locks_per_transaction × (max_connections + max_prepared_transactions) locks for all sessions together.
        var headroom = await LockHeadroom.ReadAsync(db, cancel);
        var (perTransaction, slots) = (headroom.MaxLocksPerTransaction, headroom.Slots);
        var capacity = (long)perTransaction * slots;
        var threshold = $"warning {limits.LockHeadroomWarningPercent}%, critical {limits.LockHeadroomCriticalPercent}% of max_locks_per_transaction × (max_connections + max_prepared_transactions) = {perTransaction} × {slots} = {capacity}";
        if (headroom.View is null)
            return [Ok(HealthCheckNames.LockHeadroom, $"no public views; lock table {capacity}", threshold, "No public views yet.")];

        var (view, relations, indexes) = (headroom.View, headroom.Relations, headroom.Indexes);
        var locks = headroom.Locks;
        var percent = 100.0 * locks / capacity;
        var status = percent >= limits.LockHeadroomCriticalPercent ? WhHealthStatus.Critical
            : percent >= limits.LockHeadroomWarningPercent ? WhHealthStatus.Warning : WhHealthStatus.Ok;
        // The setting that keeps one query under the warning share: locks × 100 / warning% spread over the slots.
        var needed = headroom.SettingFor(locks, limits.LockHeadroomWarningPercent);
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.LockHeadroom, Target = view, Status = status,
            Value = $"{locks} locks ({relations} relations + {indexes} indexes) = {percent:0.#}% of {capacity}",
            Threshold = threshold,
            Message = status == WhHealthStatus.Ok
                ? $"A query on {view} takes {locks} of {capacity} lock slots."
                : $"A query on {view} locks {locks} relations and indexes; a few concurrent ones fail with 'out of shared memory, increase max_locks_per_transaction'. " +
                  $"Raise max_locks_per_transaction from {perTransaction} to at least {needed} in postgresql.conf (needs a restart), drop daily views older than you report on, or point BI tools at the tenant views.",
        }];
    }

    private static async Task<IEnumerable<WhHealthCheck>> DeadTuplesAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        // Dead rows that autovacuum takes care of are no news: the module itself makes them every minute (today's rows
        // replaced in <template>_recent). A table is reported when it is past autovacuum's own trigger for it (its
        // threshold + scale factor × rows, the table's own settings first) and no vacuum has reached it in the last ten
        // autovacuum rounds (autovacuum_naptime): autovacuum is off for it, or behind.
        var rows = await ReadAsync(db,
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

    private static async Task<IEnumerable<WhHealthCheck>> SlowStatementsAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        var threshold = $"mean {limits.SlowStatementMilliseconds:0} ms";
        var schema = await Db.ScalarAsync<string>(db,
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'", cancel);
        const string enable = "To watch slow statements: shared_preload_libraries = 'pg_stat_statements' (restart), then CREATE EXTENSION pg_stat_statements; in this database as a superuser.";
        if (schema is null)
            return [Ok(HealthCheckNames.SlowStatements, "not available", threshold, "pg_stat_statements is not installed in this database, so slow statements are not checked. " + enable)];
        try
        {
            var rows = await ReadAsync(db,
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

    private static async Task<IEnumerable<WhHealthCheck>> CronAsync(NpgsqlConnection db, HealthThresholds limits, bool history, CancellationToken cancel)
    {
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
        var elsewhere = await ReadAsync(db,
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
        var failures = await ReadAsync(db,
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

    /// <summary>The freshness checks, once the engine's rows (read on the second connection) are in.</summary>
    private static async Task<IEnumerable<WhHealthCheck>> FreshnessChecksAsync(Task<List<DailyViews.WhMvFreshness>> rows, HealthThresholds limits) =>
        FreshnessChecks(await rows, limits);

    /// <summary>
    /// Freshness of every tenant and template from the SQL engine Get-WhMvFreshness reads too (<c>_wh.freshness</c>: one
    /// set of status rules, each tenant on its clock). Failing, Stale and Empty are Critical; Changed, Partial and Gaps
    /// a Warning.
    /// </summary>
    private static IEnumerable<WhHealthCheck> FreshnessChecks(IReadOnlyList<DailyViews.WhMvFreshness> rows, HealthThresholds limits)
    {
        static string Late(TimeSpan by) => by.TotalHours >= 1 ? $"{(int)by.TotalHours} h {by.Minutes} min" : $"{Math.Max(1, (int)by.TotalMinutes)} min";
        var threshold = $"latest day ≥ yesterday; no missing, partial or changed day in the last {limits.FreshnessDays} days; no failure after the last success";
        if (rows.Count == 0) return [Ok(HealthCheckNames.Freshness, "no tenants", threshold, "No tenants yet: New-WhTenant adds one.")];
        return rows.Select(t =>
        {
            var target = t.Template.Length == 0 ? t.Tenant : $"{t.Tenant}/{t.Template}";
            var template = t.Template.Length == 0 ? "<template>" : t.Template;
            var today = DateOnly.FromDateTime(t.Today);
            var latest = t.LatestDate is { } l ? DateOnly.FromDateTime(l) : (DateOnly?)null;
            var gaps = t.MissingDates.Count(d => t.LatestDate is { } x && d < x);
            static string Days(IEnumerable<DateTime> days) => string.Join(", ", days.Take(5).Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            var advice = t.Status switch
            {
                FreshnessStatus.Failing =>
                    $"the last load failed ({Shorten(t.LastError ?? "")}): Test-WhTenantConnection {t.Tenant}, then load again",
                FreshnessStatus.Stale or FreshnessStatus.Empty => latest is { } last
                    ? $"the latest day is {last:yyyy-MM-dd}: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From {last.AddDays(1):yyyy-MM-dd}, and check its schedule (Get-WhCronJob -Tenant {t.Tenant})"
                    : $"no day loaded yet: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From <first day>",
                FreshnessStatus.Late =>
                    $"yesterday ({today.AddDays(-1):yyyy-MM-dd}) is not finished {Late(t.LateBy)} after its freshness SLA ({t.FreshnessSla:c} after the day ended): " +
                    $"Update-WhMv -Tenant {t.Tenant} -Template {template} -Date {today.AddDays(-1):yyyy-MM-dd} finishes it; check its schedule (Get-WhCronJob -Tenant {t.Tenant}) and Get-WhCronJobRun -Failed",
                FreshnessStatus.Changed =>
                    $"{t.ChangedDates.Count} day(s) differ from the source ({Days(t.ChangedDates)}): Repair-WhMv -Tenant {t.Tenant} -Template {template} -From {t.ChangedDates.Min():yyyy-MM-dd} re-loads them",
                FreshnessStatus.Partial =>
                    $"{t.PartialDates.Count} closed day(s) were last read before they ended ({Days(t.PartialDates)}): Test-WhMv -Tenant {t.Tenant} -Template {template} -From {t.PartialDates.Min():yyyy-MM-dd} | Repair-WhMv",
                FreshnessStatus.Gaps =>
                    $"{gaps} day(s) missing in the last {limits.FreshnessDays}: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From {today.AddDays(-(limits.FreshnessDays - 1)):yyyy-MM-dd} loads only the missing ones",
                FreshnessStatus.Fresh => "Up to date.",
                // Every status is named: a new one must say its advice and severity here, not fall into another's.
                _ => throw new System.Diagnostics.UnreachableException($"freshness status {t.Status} has no advice"),
            };
            var status = t.Status switch
            {
                FreshnessStatus.Fresh => WhHealthStatus.Ok,
                FreshnessStatus.Changed or FreshnessStatus.Partial or FreshnessStatus.Gaps => WhHealthStatus.Warning,
                FreshnessStatus.Failing or FreshnessStatus.Stale or FreshnessStatus.Empty or FreshnessStatus.Late => WhHealthStatus.Critical,
                _ => throw new System.Diagnostics.UnreachableException($"freshness status {t.Status} has no severity"),
            };
            var verified = t.LastVerified is { } v ? $", verified {v:yyyy-MM-dd HH:mm}" : "";
            return new WhHealthCheck
            {
                Check = HealthCheckNames.Freshness, Target = target, Status = status,
                Value = $"{t.Status}" + (latest is { } d ? $" (latest {d:yyyy-MM-dd}, {t.DailyViewCount} daily views{verified})" : ""),
                Threshold = $"{threshold} (since {t.WindowStart:yyyy-MM-dd})",
                Message = status == WhHealthStatus.Ok ? "Up to date." : advice + ".",
            };
        }).ToList();
    }

    /// <summary>
    /// The run log keeps run_log_retention_days (warehouse_info, default 90); the scheduled refresh prunes it once a
    /// day. Rows older than that mean nothing prunes it (no job, or jobs failing): a Warning.
    /// </summary>
    /// <summary>
    /// Captures, checks, verifications and run-log rows stamped after the server's clock: a session that moved the SQL
    /// layer's clock (phood.now, honoured only in a warehouse marked for tests) or a server clock that went back. Every
    /// freshness and verification answer read from them would be wrong.
    /// </summary>
    private static async Task<IEnumerable<WhHealthCheck>> FutureTimesAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var (days, runs) = (await ReadAsync(db,
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

    /// <summary>
    /// The objects the design needs and BI reads: every registered tenant's schema, each tenant view of a template the
    /// tenant has days of, and the public view of every template some tenant view exists for; each missing one with the
    /// command that restores it (the guide's DROP SCHEMA ... CASCADE takes the public views with it).
    /// </summary>
    private static async Task<IEnumerable<WhHealthCheck>> ViewsAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var missing = await ReadAsync(db,
            """
            SELECT 1, t.schema_name, format('the schema of tenant %s is gone (dropped by hand?): Remove-WhTenant %s finishes its removal, or New-WhTenant makes it again', t.schema_name, t.schema_name)
            FROM _wh.tenants t WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = t.schema_name)
            UNION ALL
            SELECT 2, d.schema_name || '.' || d.template_name, format('the tenant view %I.%I is missing: Update-WhUnionView -Tenant %s -Template %s', d.schema_name, d.template_name, d.schema_name, d.template_name)
            -- the catalog's join-free base, aggregated first (as _wh.freshness does): one row per schema and template
            FROM (SELECT n.nspname::text AS schema_name, r.template_name
                  FROM (SELECT DISTINCT r.relnamespace, r.template_name FROM _wh.daily_relations r) r
                  JOIN pg_namespace n ON n.oid = r.relnamespace
                  JOIN _wh.tenants t ON t.schema_name = n.nspname
                  JOIN _wh.mv_templates m ON m.template_name = r.template_name) d
            WHERE to_regclass(format('%I.%I', d.schema_name, d.template_name)) IS NULL
            UNION ALL
            SELECT 3, 'public.' || m.template_name, format('the cross-tenant view public.%I is missing: Update-WhUnionView -Public -Template %s', m.template_name, m.template_name)
            FROM _wh.mv_templates m
            WHERE to_regclass(format('public.%I', m.template_name)) IS NULL
              AND EXISTS (SELECT 1 FROM _wh.tenants t WHERE to_regclass(format('%I.%I', t.schema_name, m.template_name)) IS NOT NULL)
            ORDER BY 1, 2
            """, r => (Target: r.GetString(1), Message: r.GetString(2)), cancel);
        const string threshold = "every tenant schema, tenant view and public view the tenants need";
        if (missing.Count == 0) return [Ok(HealthCheckNames.Views, "all present", threshold, "Every tenant schema, tenant view and public view is there.")];
        return missing.Select(m => new WhHealthCheck
        {
            Check = HealthCheckNames.Views, Status = WhHealthStatus.Critical, Target = m.Target, Value = "missing", Threshold = threshold,
            Message = char.ToUpperInvariant(m.Message[0]) + m.Message[1..] + ".",
        }).ToList();
    }

    private static async Task<IEnumerable<WhHealthCheck>> RunLogAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var (rows, older, days) = (await ReadAsync(db,
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

    /// <summary>
    /// Each streaming replica of this server: state, replay lag, and whether hot_standby_feedback is on. The setting is
    /// the standby's and no view of the primary shows it; a standby with feedback on reports an xmin, which
    /// pg_stat_replication shows as backend_xmin, so "feedback on" means exactly that (a standby that just connected
    /// reports within wal_receiver_status_interval, 10 s by default). Read through public.wh_streaming_replicas()
    /// (setup-database.sql): pg_stat_replication hides these columns from whadmin.
    /// </summary>
    private static async Task<IEnumerable<WhHealthCheck>> ReplicasAsync(NpgsqlConnection db, HealthThresholds limits, CancellationToken cancel)
    {
        var threshold = $"streaming; replay lag warning {limits.ReplicaLagWarningSeconds:0.#} s, critical {limits.ReplicaLagCriticalSeconds:0.#} s; hot_standby_feedback on";
        var viaFunction = await Db.ScalarAsync<bool>(db,
            "SELECT coalesce(has_function_privilege(to_regprocedure('public.wh_streaming_replicas()'), 'EXECUTE'), false)", cancel);
        var rows = await ReadAsync(db, viaFunction
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

    private static async Task<IEnumerable<WhHealthCheck>> NeverAnalyzedAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var views = await ReadAsync(db,
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

    private static WhHealthCheck Ok(string check, string value, string threshold, string message) =>
        new() { Check = check, Status = WhHealthStatus.Ok, Value = value, Threshold = threshold, Message = message };

    private static string Shorten(string text) => text.Length <= 160 ? text.Trim() : text[..157].Trim() + "…";

    private static string Size(long bytes)
    {
        string[] units = ["bytes", "kB", "MB", "GB", "TB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} bytes" : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }

    private static async Task<List<T>> ReadAsync<T>(NpgsqlConnection db, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancel,
        params (string, object?)[] parameters)
    {
        await using var command = Db.Command(db, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancel)) rows.Add(map(reader));
        return rows;
    }
}
