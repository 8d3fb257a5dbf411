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

