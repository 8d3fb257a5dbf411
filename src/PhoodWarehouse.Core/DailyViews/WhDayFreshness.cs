namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// What one day of a tenant's template is, for the freshness picture (Export-WhFreshnessReport). The day-level
/// counterpart of <see cref="FreshnessStatus"/>: the days that <see cref="WhMvFreshness"/> lists as missing, partial or
/// changed have exactly these statuses here. See <see cref="FreshnessCalendar"/> for the rules.
/// </summary>
public enum DayStatus
{
    /// <summary>Loaded and finished (captured after the day ended), or loaded by an earlier release (capture time unknown).</summary>
    Fresh,
    /// <summary>Today, or yesterday before its refresh after midnight: loaded with what was logged so far.</summary>
    Open,
    /// <summary>No view, on or after the first loaded day (a hole, or a day not loaded yet).</summary>
    Missing,
    /// <summary>A closed day (before yesterday) last captured before it ended: the job will not finish it.</summary>
    Partial,
    /// <summary>The last check found it different from its source, and it has not been loaded again since.</summary>
    Changed,
    /// <summary>Its latest failure in the run log is newer than its latest success.</summary>
    Failed,
    /// <summary>Yesterday, not finished although the tenant's freshness SLA has passed (the pair's status is Late).</summary>
    Late,
    /// <summary>Before the first loaded day, or a template with no day at all: nothing was ever expected to be there.</summary>
    NoData,
}

/// <summary>One day of a tenant's template: its status and what the catalog and the run log know of it.</summary>
public sealed record WhDayFreshness
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required DateTime Date { get; init; }
    public required DayStatus Status { get; init; }
    /// <summary>The tenant's today when it was read (<c>_wh.today_in</c> of its time zone).</summary>
    public required DateTime Today { get; init; }
    /// <summary>A view of this day exists (a materialized view or a compacted closed day).</summary>
    public bool Present { get; init; }
    public bool Compacted { get; init; }
    /// <summary>When its rows were last read from the source; null: not loaded, or loaded by an earlier release.</summary>
    public DateTime? CapturedAt { get; init; }
    public long? CapturedRows { get; init; }
    public MvCheckStatus? CheckStatus { get; init; }
    public DateTime? LastChecked { get; init; }
    public long? WarehouseRows { get; init; }
    public long? SourceRows { get; init; }
    public DateTime? LastVerified { get; init; }
    public DateTime? LastSuccess { get; init; }
    public DateTime? LastFailure { get; init; }
    public string? LastError { get; init; }

    public override string ToString() => $"{Tenant}/{Template} {Date:yyyy-MM-dd} {Status}";
}
