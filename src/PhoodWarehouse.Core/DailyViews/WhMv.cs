namespace PhoodWarehouse.Core.DailyViews;

/// <summary>One daily materialized view as the catalog sees it.</summary>
public sealed record WhMv
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required DateTime Date { get; init; }
    /// <summary>The view's name inside the tenant schema: <c>foodlogstats_2024_01_15</c>.</summary>
    public required string Name { get; init; }
    /// <summary>Heap, indexes and TOAST (<c>pg_total_relation_size</c>); null for a closed day compacted into the shared
    /// <c>&lt;template&gt;_closed</c> table (its rows have no size of their own).</summary>
    public long? SizeBytes { get; init; }
    /// <summary>
    /// <c>pg_class.reltuples</c>: the planner's row count, set by the ANALYZE that follows every create (exact up to
    /// 30,000 rows, an estimate above) and by every refresh; null when the view was never analyzed. Not a count(*):
    /// listing a year of views must not read a year of data. For a closed day compacted into <c>&lt;template&gt;_closed</c>:
    /// the row count the run log recorded when the day was last loaded.
    /// </summary>
    public long? Rows { get; init; }
    /// <summary>When it was last created, refreshed or re-created (run log); null when the log has no such row.</summary>
    public DateTime? LastRefreshed { get; init; }
    /// <summary>Schema-qualified name.</summary>
    public string View => $"{Tenant}.{Name}";

    public override string ToString() => View;
}

/// <summary>How current a tenant's template is. See <see cref="WhMvFreshness.Status"/>.</summary>
public enum FreshnessStatus
{
    /// <summary>Today or yesterday is loaded, no hole in the window, no unresolved failure.</summary>
    Fresh,
    /// <summary>Holes: days missing before the latest loaded day, inside the window.</summary>
    Gaps,
    /// <summary>The latest loaded day is older than yesterday.</summary>
    Stale,
    /// <summary>The latest run failed, or a day in the window failed and is still missing.</summary>
    Failing,
    /// <summary>No daily view at all.</summary>
    Empty,
}

/// <summary>Freshness of one tenant's template over a window of days ending today (the warehouse's CURRENT_DATE).</summary>
public sealed record WhMvFreshness
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public DateTime? LatestDate { get; init; }
    /// <summary>Today minus <see cref="LatestDate"/> in days (0 = today is loaded); null when empty.</summary>
    public int? DaysBehind { get; init; }
    /// <summary>Days without a view from the later of the window start and the first loaded day, up to today.</summary>
    public DateTime[] MissingDates { get; init; } = [];
    public DateTime? LastSuccess { get; init; }
    public DateTime? LastFailure { get; init; }
    public string? LastError { get; init; }
    public required FreshnessStatus Status { get; init; }
    public DateTime? FirstDate { get; init; }
    public int DailyViewCount { get; init; }
    public required DateTime WindowStart { get; init; }
    public required DateTime Today { get; init; }
}

/// <summary>A tenant or public union view that was rebuilt.</summary>
public sealed record WhUnionView(string View, string Template, string? Tenant, int DailyViewCount)
{
    public override string ToString() => View;
}

/// <summary>Which daily views to list: names may hold wildcards; dates are inclusive.</summary>
public sealed record DailyViewQuery
{
    public IReadOnlyList<NamePattern> Tenants { get; init; } = [];
    public IReadOnlyList<NamePattern> Templates { get; init; } = [];
    public DateOnly? From { get; init; }
    public DateOnly? To { get; init; }
}
