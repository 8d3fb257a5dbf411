namespace PhoodWarehouse.Core.DailyViews;

/// <summary>What to load: tenants × templates × days.</summary>
public sealed record BackfillRequest
{
    public required IReadOnlyList<string> Tenants { get; init; }
    public required IReadOnlyList<string> Templates { get; init; }
    public required DateOnly From { get; init; }
    /// <summary>Last day; null: each tenant's today (on its clock, <c>_wh.tenant_today</c>). A plan always has it set.</summary>
    public DateOnly? To { get; init; }
    /// <summary>Rebuild days that exist (readers keep the old day until the new one replaces it).</summary>
    public bool Force { get; init; }
    /// <summary>
    /// Each day is a repair (Repair-WhMv): loaded through <c>_wh.repair_day</c> with force, and logged 'repaired' in its
    /// transaction when it was created or re-created.
    /// </summary>
    public bool Repair { get; init; }
    /// <summary>Days loaded at once, each over its own connection.</summary>
    public int ThrottleLimit { get; init; } = 4;
    /// <summary>Longest a single day may take before it is cancelled and reported as failed; null = no limit.</summary>
    public TimeSpan? DayTimeout { get; init; }
}

/// <summary>One unit of work: a day of a tenant's template.</summary>
public sealed record BackfillDay(string Tenant, string ConnectionName, string Template, DateOnly Date, bool Exists);

/// <summary>
/// The days a backfill will touch, worked out before any work starts; <paramref name="Today"/> is the latest of the
/// tenants' todays, <see cref="TenantToday"/> each tenant's (its clock, asked of the SQL layer).
/// </summary>
public sealed record BackfillPlan(BackfillRequest Request, IReadOnlyList<BackfillDay> Days, DateOnly Today)
{
    public int Total => Days.Count;
    public IReadOnlyDictionary<string, DateOnly> TenantToday { get; init; } = new Dictionary<string, DateOnly>();
    public DateOnly TodayOf(string tenant) => TenantToday.TryGetValue(tenant, out var today) ? today : Today;

    /// <summary>A closed day: older than its tenant's yesterday (its clock), so it is never refreshed again.</summary>
    public bool IsClosed(BackfillDay day) => day.Date < TodayOf(day.Tenant).AddDays(-1);

    /// <summary>A day the run leaves as it is: closed and loaded already, and no -Force.</summary>
    public bool IsFinal(BackfillDay day) => day.Exists && !Request.Force && IsClosed(day);
}
