using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.Schedules;

/// <summary>
/// The guide's "Managing Cron Jobs" through pg_cron's own functions: jobs are created and updated by name with
/// <c>cron.schedule_in_database</c> (run as whadmin in the current database), paused with <c>cron.alter_job</c>,
/// removed with <c>cron.unschedule</c>; never by writing <c>cron.job</c> directly.
/// pg_cron's row level security applies: whadmin sees and changes only whadmin's jobs and run history,
/// a superuser sees every job.
/// </summary>
public sealed class CronScheduler(WhConnection connection, ILogger logger)
{
    private const string JobColumns = "jobid, jobname, schedule, command, active, database, username";

    /// <summary>What pg_cron looks like from this session.</summary>
    private sealed record CronState(string? TimeZoneSetting, DateTime NowUtc, string CurrentUser, bool IsSuperuser)
    {
        public TimeZoneInfo Zone => CronExpression.ResolveTimeZone(TimeZoneSetting);
        public string ZoneName => string.IsNullOrWhiteSpace(TimeZoneSetting) ? "GMT" : TimeZoneSetting;
    }

    /// <summary>Checks the request against the warehouse (tenant, template, name) and says what registering would do.</summary>
    public async Task<CronJobRegistration> PlanRegisterAsync(CronJobRequest request, CancellationToken cancel)
    {
        var schedule = CronExpression.Parse(request.Schedule);
        TenantName.Validate(request.Tenant);
        TenantName.ValidateTemplate(request.Template);
        var name = request.Name ?? CronJobCommand.DefaultName(request.Tenant, request.Template);
        if (string.IsNullOrWhiteSpace(name))
            throw new WarehouseException("InvalidCronJobName", WhErrorKind.InvalidArgument,
                "The job name is empty. Leave -Name out to get wh_<tenant>_<template>, or give a name such as 'wh_tenant_a_nightly'.", name);

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await EnsureAvailableAsync(db, cancel);
        if (!state.IsSuperuser && state.CurrentUser != "whadmin")
            throw new WarehouseException("CronPermissionDenied", WhErrorKind.PermissionDenied,
                $"Refresh jobs run as whadmin and only whadmin or a superuser can schedule them; you are connected as '{state.CurrentUser}'. Connect as whadmin and run the command again.",
                name);

        await using var command = Db.Command(db,
            """
            SELECT (SELECT connection_name FROM _wh.tenants WHERE schema_name = @t),
                   EXISTS (SELECT 1 FROM _wh.tenant_connections WHERE tenant_name = @t),
                   EXISTS (SELECT 1 FROM _wh.mv_templates WHERE template_name = @m)
            """, ("t", request.Tenant), ("m", request.Template));
        string? connectionName;
        bool connectionNamedAfterTenant, templateExists;
        await using (var reader = await command.ExecuteReaderAsync(cancel))
        {
            await reader.ReadAsync(cancel);
            connectionName = reader.IsDBNull(0) ? null : reader.GetString(0);
            connectionNamedAfterTenant = reader.GetBoolean(1);
            templateExists = reader.GetBoolean(2);
        }
        // A tenant whose first day is not loaded yet is known only by its connection (named after it).
        connectionName ??= connectionNamedAfterTenant ? request.Tenant : null;
        if (connectionName is null) throw Tenants.TenantStore.NotFound(request.Tenant);
        if (!templateExists) throw Templates.TemplateStore.NotFound(request.Template);

        var jobCommand = CronJobCommand.Build(request.Template, connectionName, request.Tenant, request.RefreshYesterday, request.LookbackDays);
        var existing = (await ReadJobsAsync(db, state, "jobname = @n AND username = 'whadmin'", cancel, ("n", name))).FirstOrDefault();
        if (existing is not null && !existing.IsWarehouseJob)
            throw new WarehouseException("CronJobNameTaken", WhErrorKind.ResourceExists,
                $"The cron job '{name}' (job {existing.JobId}) exists and does not refresh warehouse views ({existing.Command}); registering would overwrite it. Choose another -Name.",
                name);
        return new CronJobRegistration(name, request.Tenant, request.Template, connectionName, schedule, jobCommand,
            existing?.JobId, existing?.Schedule, existing?.Command);
    }

    /// <summary>Creates the job, or updates the one of that name (pg_cron 1.4 upserts by name and user; a paused job stays paused).</summary>
    public async Task<WhCronJob> RegisterAsync(CronJobRegistration plan, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await EnsureAvailableAsync(db, cancel);
        // pg_cron 1.4 refuses the username argument from anyone but a superuser, even the caller's own name:
        // whadmin passes NULL (itself), a superuser names whadmin.
        var jobId = await Db.ScalarAsync<long>(db,
            "SELECT cron.schedule_in_database(@n, @s, @c, current_database(), @u)", cancel,
            ("n", plan.Name), ("s", plan.Schedule.Text), ("c", plan.Command), ("u", state.IsSuperuser ? "whadmin" : null));
        logger.LogInformation("{Action} cron job {Name} (job {JobId}) at '{Schedule}': {Command}",
            plan.IsUpdate ? "Updated" : "Scheduled", plan.Name, jobId, plan.Schedule.Text, plan.Command);
        // pg_cron's upsert keeps a job's old target (a warehouse restored onto another server): the SQL layer schedules
        // such jobs again here, under a new id.
        var moved = await Db.ScalarAsync<string[]>(db, "SELECT _wh.retarget_cron_jobs()", cancel) ?? [];
        foreach (var job in moved)
            logger.LogWarning("The cron job {Name} ran against another server (a restore or a move kept its old host and port): scheduled again on this one.", job);
        return (await ReadJobsAsync(db, state, "jobname = @n AND username = 'whadmin'", cancel, ("n", plan.Name))).Single();
    }

    /// <summary>The warehouse's refresh jobs (or, with <see cref="CronJobQuery.All"/>, every visible job), by name.</summary>
    public async Task<IReadOnlyList<WhCronJob>> GetAsync(CronJobQuery query, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await EnsureAvailableAsync(db, cancel);
        var jobs = await ReadJobsAsync(db, state, query.All ? "true" : "command ~ @f", cancel, ("f", CronJobCommand.FunctionPattern));
        return jobs
            .Where(j => query.All || j.IsWarehouseJob)
            .Where(j => query.Tenant is null || string.Equals(j.Tenant, query.Tenant, StringComparison.Ordinal))
            .Where(j => query.Names.Count == 0 || (j.Name is not null && NamePattern.AnyMatch(query.Names, j.Name)))
            .ToList();
    }

    /// <summary>Runs from <c>cron.job_run_details</c>, newest first.</summary>
    public async Task<IReadOnlyList<WhCronJobRun>> GetRunsAsync(CronRunQuery query, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await EnsureAvailableAsync(db, cancel);
        var limit = query.Names.Count == 0 ? query.Last : null;
        await using var command = Db.Command(db,
            $"""
            SELECT r.jobid, r.runid, j.jobname, r.status, r.start_time, r.end_time, r.return_message, r.command
            FROM cron.job_run_details r
            LEFT JOIN cron.job j ON j.jobid = r.jobid
            WHERE (@since::timestamptz IS NULL OR r.start_time >= @since::timestamptz)
              AND (NOT @failed OR r.status = 'failed')
              AND (@all OR r.command ~ @f)
            ORDER BY r.start_time DESC NULLS FIRST, r.runid DESC
            {(limit is null ? "" : "LIMIT " + limit.Value)}
            """,
            ("since", query.Since is { } since ? ToUtc(since) : null), ("failed", query.FailedOnly), ("all", query.All),
            ("f", CronJobCommand.FunctionPattern));
        var runs = new List<WhCronJobRun>();
        // Read row by row: with -Name the limit is not in the SQL, and reading stops at the -Last match (the history is long).
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            var name = reader.IsDBNull(2) ? null : reader.GetString(2);
            if (query.Names.Count > 0 && (name is null || !NamePattern.AnyMatch(query.Names, name))) continue;
            runs.Add(new WhCronJobRun
            {
                JobId = reader.GetInt64(0),
                RunId = reader.GetInt64(1),
                Name = name,
                Status = reader.IsDBNull(3) ? "unknown" : reader.GetString(3),
                Start = reader.IsDBNull(4) ? null : reader.GetDateTime(4),
                End = reader.IsDBNull(5) ? null : reader.GetDateTime(5),
                Message = reader.IsDBNull(6) ? null : reader.GetString(6),
                Command = reader.IsDBNull(7) ? null : reader.GetString(7),
            });
            if (query.Last is { } last && runs.Count >= last) break;
        }
        return runs;
    }

    /// <summary>Pauses or resumes a job with <c>cron.alter_job</c>.</summary>
    public async Task<WhCronJob> SetActiveAsync(WhCronJob job, bool active, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await EnsureAvailableAsync(db, cancel);
        await AsJobCommandAsync(job, () => Db.ExecuteAsync(db, "SELECT cron.alter_job(@id, active => @a)", cancel, ("id", job.JobId), ("a", active)));
        logger.LogInformation("{Action} cron job {Name} (job {JobId})", active ? "Enabled" : "Disabled", job, job.JobId);
        return (await ReadJobsAsync(db, state, "jobid = @id", cancel, ("id", job.JobId))).Single();
    }

    /// <summary>Removes a job with <c>cron.unschedule</c>; its run history stays (Clear-WhCronJobRun removes it).</summary>
    public async Task UnregisterAsync(WhCronJob job, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await EnsureAvailableAsync(db, cancel);
        await AsJobCommandAsync(job, () => Db.ExecuteAsync(db, "SELECT cron.unschedule(@id::bigint)", cancel, ("id", job.JobId)));
        logger.LogInformation("Unregistered cron job {Name} (job {JobId})", job, job.JobId);
    }

    /// <summary>How many history rows ended before <c>now() - olderThan</c> (what -WhatIf reports).</summary>
    public async Task<long> CountHistoryAsync(TimeSpan olderThan, CancellationToken cancel)
    {
        RefuseNegative(olderThan);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await EnsureAvailableAsync(db, cancel);
        return await Db.ScalarAsync<long>(db, "SELECT count(*) FROM cron.job_run_details WHERE end_time < now() - @age", cancel, ("age", olderThan));
    }

    /// <summary>
    /// Deletes run history that ended more than <paramref name="olderThan"/> ago. pg_cron 1.4 grants DELETE to
    /// PUBLIC under row level security: whadmin deletes its own jobs' rows, a superuser everyone's.
    /// </summary>
    public async Task<WhCronHistoryCleared> ClearHistoryAsync(TimeSpan olderThan, CancellationToken cancel)
    {
        RefuseNegative(olderThan);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await EnsureAvailableAsync(db, cancel);
        try
        {
            await using var command = Db.Command(db,
                "WITH gone AS (DELETE FROM cron.job_run_details WHERE end_time < now() - @age RETURNING 1) SELECT count(*), now() - @age FROM gone",
                ("age", olderThan));
            await using var reader = await command.ExecuteReaderAsync(cancel);
            await reader.ReadAsync(cancel);
            var deleted = reader.GetInt64(0);
            var cutoff = reader.GetDateTime(1);
            logger.LogInformation("Deleted {Count} cron run history rows that ended before {Cutoff:u}", deleted, cutoff);
            return new WhCronHistoryCleared(deleted, olderThan, cutoff, state.CurrentUser);
        }
        catch (PostgresException error) when (error.SqlState == "42501")
        {
            throw new WarehouseException("CronHistoryPermissionDenied", WhErrorKind.PermissionDenied,
                $"'{state.CurrentUser}' may not delete from cron.job_run_details ({error.MessageText}). pg_cron 1.4 grants DELETE to PUBLIC; " +
                "if it was revoked here, run as a superuser: GRANT DELETE ON cron.job_run_details TO whadmin; or connect as a superuser.",
                "cron.job_run_details", error);
        }
    }

    /// <summary>The one rule of -OlderThan (counting and clearing the history alike).</summary>
    private static void RefuseNegative(TimeSpan olderThan)
    {
        if (olderThan < TimeSpan.Zero)
            throw new WarehouseException("InvalidOlderThan", WhErrorKind.InvalidArgument,
                $"-OlderThan must not be negative ({olderThan}). Example: -OlderThan (New-TimeSpan -Days 30), or -OlderThan 30.00:00:00.", olderThan);
    }

    /// <summary>
    /// Unschedules the tenant's refresh jobs (the same notion as Get-WhCronJob -Tenant) on the caller's connection,
    /// inside the caller's transaction if it has one. Without pg_cron in the database there is nothing to remove: 0.
    /// </summary>
    public static async Task<int> UnregisterTenantJobsAsync(NpgsqlConnection db, string tenantSchema, CancellationToken cancel)
    {
        var jobs = await ListTenantJobsAsync(db, tenantSchema, cancel);
        foreach (var job in jobs)
            await Db.ExecuteAsync(db, "SELECT cron.unschedule(@id::bigint)", cancel, ("id", job.JobId));
        return jobs.Count;
    }

    /// <summary>The tenant's refresh jobs visible to this session; empty when pg_cron is not installed here.</summary>
    public static async Task<IReadOnlyList<WhCronJob>> ListTenantJobsAsync(NpgsqlConnection db, string tenantSchema, CancellationToken cancel)
    {
        var state = await ReadStateAsync(db, cancel);
        if (state is null) return [];
        var jobs = await ReadJobsAsync(db, state, "command ~ @f", cancel, ("f", CronJobCommand.FunctionPattern));
        return jobs.Where(j => j.Tenant == tenantSchema).ToList();
    }

    private async Task<CronState> EnsureAvailableAsync(NpgsqlConnection db, CancellationToken cancel) =>
        await ReadStateAsync(db, cancel) ?? throw Unavailable(connection.Database, connection.Target);

    /// <summary>The one error every schedule command gives when pg_cron is not installed in the warehouse database.</summary>
    public static WarehouseException Unavailable(string database, string target) =>
        new("PgCronUnavailable", WhErrorKind.NotInstalled,
            $"pg_cron is not installed in {target}, so schedules are unavailable (everything else works). To enable them: install the package " +
            $"(Debian/Ubuntu: apt-get install postgresql-15-cron), set shared_preload_libraries = 'pg_cron' and cron.database_name = '{database}' " +
            "in postgresql.conf (and cron.host to the socket folder when TCP logins need a password), restart PostgreSQL, then run Install-WhWarehouse connected as a superuser.",
            target);

    /// <summary>Null when pg_cron is not installed in this database (or this user may not use it).</summary>
    private static async Task<CronState?> ReadStateAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        await using var command = Db.Command(db,
            """
            SELECT EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                           WHERE e.extname = 'pg_cron' AND has_schema_privilege(n.oid, 'USAGE')),
                   current_setting('cron.timezone', true), now(), current_user,
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
            """);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        if (!reader.GetBoolean(0)) return null;
        return new CronState(reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetDateTime(2), reader.GetString(3), reader.GetBoolean(4));
    }

    private static Task<List<WhCronJob>> ReadJobsAsync(NpgsqlConnection db, CronState state, string where,
        CancellationToken cancel, params (string, object?)[] parameters) =>
        Db.ReadAllAsync(db, $"SELECT {JobColumns} FROM cron.job WHERE {where} ORDER BY jobname NULLS LAST, jobid", reader =>
        {
            var schedule = reader.GetString(2);
            var text = reader.GetString(3);
            var active = reader.GetBoolean(4);
            var parsed = CronJobCommand.Parse(text);
            DateTime? next = null;
            if (active && CronExpression.TryParse(schedule, out var expression)) next = expression!.NextUtc(state.NowUtc, state.Zone);
            return new WhCronJob
            {
                JobId = reader.GetInt64(0),
                Name = reader.IsDBNull(1) ? null : reader.GetString(1),
                Schedule = schedule,
                Command = text,
                Active = active,
                Database = reader.GetString(5),
                User = reader.GetString(6),
                Tenant = parsed?.Tenant,
                Template = parsed?.Template,
                ConnectionName = parsed?.ConnectionName,
                NextRunUtc = next,
                TimeZone = state.ZoneName,
            };
        }, cancel, parameters);

    /// <summary>
    /// The one error of a job name (no wildcards) that matches none of the jobs <paramref name="query"/> lists
    /// (Get-WhCronJob's, or every job the session can see, as Enable-, Disable- and Unregister-WhCronJob look).
    /// </summary>
    public static WarehouseException JobNotFound(string name, CronJobQuery query) =>
        new("CronJobNotFound", WhErrorKind.ObjectNotFound,
            $"There is no {(query.All ? "" : "warehouse ")}cron job named '{name}'{(query.Tenant is null ? "" : $" for tenant '{query.Tenant}'")} that you can see. " +
            "Get-WhCronJob lists the warehouse's jobs, Get-WhCronJob -All every job you can see and change.", name);

    /// <summary>pg_cron says "could not find valid entry" or "does not exist or you don't own it": say it plainly.</summary>
    private static async Task AsJobCommandAsync(WhCronJob job, Func<Task> work)
    {
        try
        {
            await work();
        }
        catch (PostgresException error) when (error.SqlState == "XX000" || error.MessageText.Contains("does not exist", StringComparison.Ordinal))
        {
            throw new WarehouseException("CronJobNotFound", WhErrorKind.ObjectNotFound,
                $"The cron job '{job}' (job {job.JobId}) is gone or belongs to another user ({error.MessageText}). Get-WhCronJob -All lists the jobs you can change.",
                job.ToString(), error);
        }
    }

    private static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        _ => value.ToUniversalTime(),
    };
}
