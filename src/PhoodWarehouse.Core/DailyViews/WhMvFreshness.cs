namespace PhoodWarehouse.Core.DailyViews;

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
