using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// The guide's "Dropping a Tenant", in a safe order and one transaction: out of every public view first
/// (BI keeps working), then its cron jobs, then its schema with every daily view, then its connection
/// (server, user mapping, row) unless another tenant shares it. All or nothing; running it again after an
/// interruption finishes the job, because each step is idempotent.
/// </summary>
public sealed class TenantRemover(WhConnection connection, ILogger logger)
{
    /// <summary>What removing the tenant would do, step by step (for -WhatIf and -Confirm).</summary>
    public async Task<IReadOnlyList<string>> PlanAsync(string name, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await ReadAsync(db, name, cancel);
        var steps = new List<string>();
        foreach (var view in state.PublicViews) steps.Add($"rebuild public.{view} without {name}");
        foreach (var job in state.CronJobs) steps.Add($"unschedule cron job '{job}'");
        if (state.SchemaExists) steps.Add($"drop schema {name} and its {state.DailyViews} daily views");
        if (state.ConnectionName is not null && !state.ConnectionShared)
            steps.Add($"drop connection {state.ConnectionName} (dblink server and user mapping)");
        if (state.Registered) steps.Add($"unregister tenant {name}");
        return steps;
    }

    /// <summary>Removes the tenant. Throws TenantNotFound when nothing of it is left.</summary>
    public async Task<IReadOnlyList<string>> RemoveAsync(string name, CancellationToken cancel)
    {
        var steps = await PlanAsync(name, cancel);
        if (steps.Count == 0) throw TenantStore.NotFound(name);

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        foreach (var step in steps) logger.LogInformation("Remove {Tenant}: {Step}", name, step);
        await CronScheduler.UnregisterTenantJobsAsync(db, name, cancel);
        await Db.ExecuteAsync(db, "SELECT _wh.remove_tenant(@s)", cancel, ("s", name));
        // A schema dropped by hand with CASCADE takes the public views with it: put them back for the other tenants.
        await Db.ExecuteAsync(db, "SELECT _wh.update_public_view_by_template(template_name) FROM _wh.mv_templates", cancel);
        await transaction.CommitAsync(cancel);
        return steps;
    }

    private sealed record RemovalState(bool Registered, bool SchemaExists, int DailyViews, string? ConnectionName,
        bool ConnectionShared, IReadOnlyList<string> PublicViews, IReadOnlyList<string> CronJobs);

    private static async Task<RemovalState> ReadAsync(NpgsqlConnection db, string name, CancellationToken cancel)
    {
        await using var command = Db.Command(db,
            """
            SELECT EXISTS (SELECT 1 FROM _wh.tenants WHERE schema_name = @s),
                   EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = @s),
                   (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = @s AND c.relkind IN ('m', 'v') AND _wh.daily_name_day(c.relname) IS NOT NULL),
                   (SELECT connection_name FROM _wh.tenants WHERE schema_name = @s),
                   EXISTS (SELECT 1 FROM _wh.tenants a JOIN _wh.tenants b ON a.connection_name = b.connection_name
                           WHERE a.schema_name = @s AND b.schema_name <> @s),
                   ARRAY(SELECT DISTINCT v.relname::text
                         FROM pg_depend d
                         JOIN pg_rewrite r ON r.oid = d.objid
                         JOIN pg_class v ON v.oid = r.ev_class
                         JOIN pg_namespace vn ON vn.oid = v.relnamespace AND vn.nspname = 'public'
                         JOIN pg_class t ON t.oid = d.refobjid
                         JOIN pg_namespace tn ON tn.oid = t.relnamespace AND tn.nspname = @s
                         WHERE d.classid = 'pg_rewrite'::regclass AND v.oid <> t.oid
                         ORDER BY 1)
            """, ("s", name));
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        var registered = reader.GetBoolean(0);
        var schemaExists = reader.GetBoolean(1);
        var views = reader.GetInt32(2);
        var connectionName = reader.IsDBNull(3) ? null : reader.GetString(3);
        var shared = reader.GetBoolean(4);
        var publicViews = reader.GetFieldValue<string[]>(5);
        await reader.DisposeAsync();
        // The same notion of "the tenant's jobs" as Get-WhCronJob -Tenant.
        var jobs = (await CronScheduler.ListTenantJobsAsync(db, name, cancel)).Select(job => job.ToString()).ToList();
        return new RemovalState(registered, schemaExists, views, connectionName, shared, publicViews, jobs);
    }
}
