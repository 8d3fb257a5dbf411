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
    /// <summary>When it was last created, refreshed or re-created (its capture time; for days of an earlier release the run log's); null when unknown.</summary>
    public DateTime? LastRefreshed { get; init; }
    /// <summary>When its rows were last read from the source, on the warehouse's clock; null: loaded by an earlier release (unknown).</summary>
    public DateTime? CapturedAt { get; init; }
    /// <summary>Captured after the day ended on the tenant's clock; null when the capture time is unknown.</summary>
    public bool? Complete { get; init; }
    /// <summary>The last check against the source (Test-WhMv, the scheduled job), cleared when the day is loaded again.</summary>
    public MvCheckStatus? CheckStatus { get; init; }
    public DateTime? LastChecked { get; init; }
    /// <summary>When a check last found the day equal to its source.</summary>
    public DateTime? LastVerified { get; init; }
    /// <summary>A closed day kept in the tenant's compacted <c>&lt;template&gt;_closed</c> table (a plain view), not a materialized view.</summary>
    public bool Compacted { get; init; }
    /// <summary>Schema-qualified name.</summary>
    public string View => $"{Tenant}.{Name}";

    public override string ToString() => View;
}

/// <summary>How current a tenant's template is. See <see cref="WhMvFreshness.Status"/>.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
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
    /// <summary>A closed day (before yesterday: the job no longer refreshes it) was last captured before it ended.</summary>
    Partial,
    /// <summary>The last check found a day different from its source, and it has not been loaded again since (Repair-WhMv).</summary>
    Changed,
    /// <summary>No daily view at all.</summary>
    Empty,
    /// <summary>Yesterday is not finished (no view captured after it ended) although its freshness SLA has passed.</summary>
    Late,
}

/// <summary>Freshness of one tenant's template over a window of days ending today on the tenant's clock (<c>_wh.tenant_today</c>).</summary>
public sealed record WhMvFreshness
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public DateTime? LatestDate { get; init; }
    /// <summary>Today minus <see cref="LatestDate"/> in days (0 = today is loaded); null when empty.</summary>
    public int? DaysBehind { get; init; }
    /// <summary>Days without a view from the later of the window start and the first loaded day, up to today.</summary>
    public IReadOnlyList<DateTime> MissingDates { get; init; } = ReadableList<DateTime>.Empty;
    public DateTime? LastSuccess { get; init; }
    public DateTime? LastFailure { get; init; }
    public string? LastError { get; init; }
    public required FreshnessStatus Status { get; init; }
    /// <summary>Closed days of the window last captured before they ended (Partial).</summary>
    public IReadOnlyList<DateTime> PartialDates { get; init; } = ReadableList<DateTime>.Empty;
    /// <summary>Days of the window whose last check found them different from the source (Changed).</summary>
    public IReadOnlyList<DateTime> ChangedDates { get; init; } = ReadableList<DateTime>.Empty;
    /// <summary>The latest time a check found one of its days equal to the source; null: never verified.</summary>
    public DateTime? LastVerified { get; init; }
    public DateTime? FirstDate { get; init; }
    /// <summary>Daily views of every kind (materialized and compacted).</summary>
    public int DailyViewCount { get; init; }
    /// <summary>How many of them are closed days kept in the compacted table.</summary>
    public int CompactedViewCount { get; init; }
    public required DateTime WindowStart { get; init; }
    public required DateTime Today { get; init; }
    /// <summary>Days of the window whose latest failure is newer than their latest success.</summary>
    public IReadOnlyList<DateTime> FailedDates { get; init; } = ReadableList<DateTime>.Empty;
    /// <summary>The latest capture of any of its days; null: none recorded.</summary>
    public DateTime? LastCapture { get; init; }
    /// <summary>How long after its day ends (on the tenant's clock) a day must be finished: the tenant's, else the warehouse's.</summary>
    public TimeSpan? FreshnessSla { get; init; }
    /// <summary>How far past its SLA yesterday is still unfinished; zero when on time (<see cref="FreshnessStatus.Late"/>).</summary>
    public TimeSpan LateBy { get; init; }
    /// <summary>The SQLSTATE of the latest failure, when recorded (failures logged before 2.3.0 have none).</summary>
    public string? LastErrorSqlState { get; init; }
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

/// <summary>How a day compares with its source (<c>_wh.check_mv_window_by_template</c>).</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum MvCheckStatus
{
    /// <summary>The warehouse holds exactly the source's rows (or neither has any).</summary>
    Match,
    /// <summary>The warehouse's day differs: a changed value, an added or a deleted row.</summary>
    Changed,
    /// <summary>The source has rows for a day the warehouse lacks.</summary>
    Missing,
}
