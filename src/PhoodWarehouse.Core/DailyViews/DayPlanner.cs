using PhoodWarehouse.Core.Templates;
using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>A tenant as a plan of days sees it: its connection, its today (its clock) and the templates it uses.</summary>
public sealed record PlannedTenant(string Name, string ConnectionName, DateOnly Today, IReadOnlyList<string> TemplatesInUse)
{
    public bool Uses(string template) => TemplatesInUse.Contains(template, StringComparer.Ordinal);
}

/// <summary>
/// What a backfill, a check, a repair, retention or a template test needs to know before any work, read in one
/// statement by <see cref="DayPlanner"/>: the tenants (every one registered), the templates asked and whether they
/// exist, and which days of the range exist (the catalog's answer).
/// </summary>
public sealed class DayPlan
{
    private readonly Dictionary<string, PlannedTenant> tenants;
    private readonly HashSet<(string Tenant, string Template, DateOnly Day)> existing;

    internal DayPlan(Dictionary<string, PlannedTenant> tenants, IReadOnlyList<string> missingTemplates,
        HashSet<(string, string, DateOnly)> existing)
    {
        this.tenants = tenants;
        MissingTemplates = missingTemplates;
        this.existing = existing;
    }

    /// <summary>The asked tenants, in the order asked.</summary>
    public IReadOnlyCollection<PlannedTenant> Tenants => tenants.Values;

    public PlannedTenant this[string tenant] => tenants[tenant];

    /// <summary>Asked templates that do not exist, in the order asked (see <see cref="EnsureTemplates"/>).</summary>
    public IReadOnlyList<string> MissingTemplates { get; }

    /// <summary>The latest of the tenants' todays.</summary>
    public DateOnly LatestToday => tenants.Values.Max(t => t.Today);

    /// <summary>Whether the day exists (a materialized view or a compacted day), for a day of the planned range.</summary>
    public bool Exists(string tenant, string template, DateOnly day) => existing.Contains((tenant, template, day));

    /// <summary>TemplateNotFound unless every one of <paramref name="templates"/> exists (all asked ones when null).</summary>
    public void EnsureTemplates(IEnumerable<string>? templates = null)
    {
        var missing = templates is null ? MissingTemplates : MissingTemplates.Where(templates.Contains).ToList();
        if (missing.Count > 0) throw TemplateStore.NotFound(string.Join("', '", missing));
    }
}

/// <summary>
/// THE planner of days: one round trip (<c>_wh.plan_days</c>, which psql can call too) resolves the tenants and their
/// connections, each tenant's today (read once per plan, on its clock: <c>_wh.tenant_today</c>, never this machine's),
/// the templates (those asked, or those a tenant uses) and the days that exist in the range, from the catalog
/// (<c>_wh.daily_views</c>). Backfill, Update-WhMv, the check, the repair, retention and Test-WhTemplate start here.
/// </summary>
public static class DayPlanner
{
    /// <summary>
    /// The plan of <paramref name="tenants"/> × <paramref name="templates"/> (null: the templates each tenant uses) and
    /// the days from <paramref name="from"/> to <paramref name="to"/> (null: each tenant's today). TenantNotFound when a
    /// tenant is not registered; missing templates are the caller's to refuse (<see cref="DayPlan.EnsureTemplates"/>).
    /// </summary>
    public static async Task<DayPlan> PlanAsync(NpgsqlConnection db, IEnumerable<string> tenants, IEnumerable<string>? templates,
        DateOnly? from, DateOnly? to, CancellationToken cancel)
    {
        var asked = tenants.Distinct().ToArray();
        await using var command = Db.Command(db,
            "SELECT schema_name, connection_name, today, templates_in_use, template_name, template_exists, days FROM _wh.plan_days(@n, @t, @f, @e)",
            ("n", asked), ("t", templates?.Distinct().ToArray()), ("f", from), ("e", to));
        command.Parameters["t"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["f"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        command.Parameters["e"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        var rows = await Db.ReadAllAsync(command, r => (
            Tenant: r.IsDBNull(0) ? null : r.GetString(0),
            Connection: r.IsDBNull(1) ? null : r.GetString(1),
            Today: r.IsDBNull(2) ? (DateOnly?)null : r.GetFieldValue<DateOnly>(2),
            InUse: r.IsDBNull(3) ? [] : r.GetFieldValue<string[]>(3),
            Template: r.IsDBNull(4) ? null : r.GetString(4),
            TemplateExists: !r.IsDBNull(5) && r.GetBoolean(5),
            Days: r.GetFieldValue<DateOnly[]>(6)), cancel);

        var planned = new Dictionary<string, PlannedTenant>(StringComparer.Ordinal);
        foreach (var row in rows)
            if (row is { Tenant: { } name, Connection: { } connection, Today: { } today } && !planned.ContainsKey(name))
                planned[name] = new PlannedTenant(name, connection, today, row.InUse);
        var unknown = asked.Where(t => !planned.ContainsKey(t)).ToList();
        if (unknown.Count > 0) throw TenantStore.NotFound(string.Join("', '", unknown));

        var missing = rows.Where(r => r.Template is not null && !r.TemplateExists).Select(r => r.Template!).Distinct().ToList();
        var existing = new HashSet<(string, string, DateOnly)>();
        foreach (var row in rows.Where(r => r.Tenant is not null && r.Template is not null))
        foreach (var day in row.Days)
            existing.Add((row.Tenant!, row.Template!, day));
        // In the order asked, the dictionary keeps insertion order as long as nothing is removed.
        return new DayPlan(asked.ToDictionary(t => t, t => planned[t], StringComparer.Ordinal), missing, existing);
    }

    /// <summary><see cref="PlanAsync(NpgsqlConnection, IEnumerable{string}, IEnumerable{string}?, DateOnly?, DateOnly?, CancellationToken)"/> over a pooled connection.</summary>
    public static async Task<DayPlan> PlanAsync(WhConnection connection, IEnumerable<string> tenants, IEnumerable<string>? templates,
        DateOnly? from, DateOnly? to, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        return await PlanAsync(db, tenants, templates, from, to, cancel);
    }
}
