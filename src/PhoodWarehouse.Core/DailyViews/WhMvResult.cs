namespace PhoodWarehouse.Core.DailyViews;

/// <summary>What happened to one day of one tenant's template.</summary>
public enum MvAction { Created, Refreshed, Skipped, Recreated, Failed }

/// <summary>One day's outcome, as Invoke-WhMvBackfill and Update-WhMv report it.</summary>
public sealed record WhMvResult
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required DateTime Date { get; init; }
    public required MvAction Action { get; init; }
    public long? Rows { get; init; }
    public TimeSpan Duration { get; init; }
    public string? Error { get; init; }
    /// <summary>Why a day was skipped: closed and loaded already (-Force loads it again), or its tenant removed during the run.</summary>
    public string? Note { get; init; }
    /// <summary>The daily view, schema-qualified: <c>tenant_a.foodlogstats_2024_01_15</c>.</summary>
    public required string View { get; init; }

    public override string ToString() => $"{View}: {Action}";

    /// <summary>The note of a closed day that exists: not loaded again without -Force.</summary>
    public const string ClosedDayNote = "Closed and loaded already: a closed day is not loaded again without -Force (Test-WhMv finds one that differs from its source).";
}

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
}
