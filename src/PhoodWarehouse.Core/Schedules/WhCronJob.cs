namespace PhoodWarehouse.Core.Schedules;

/// <summary>
/// A pg_cron job. For the warehouse's own jobs (whose command calls <c>_wh.update_mv_by_template</c>)
/// Tenant, Template and ConnectionName are read back from the command; for any other job they are null.
/// </summary>
public sealed record WhCronJob
{
    public required long JobId { get; init; }
    public string? Name { get; init; }
    public string? Tenant { get; init; }
    public string? Template { get; init; }
    public string? ConnectionName { get; init; }
    public required string Schedule { get; init; }
    public required string Command { get; init; }
    public required bool Active { get; init; }
    /// <summary>When pg_cron next starts it (UTC); null when the job is disabled or its schedule is not a five-field expression.</summary>
    public DateTime? NextRunUtc { get; init; }
    /// <summary>The time zone pg_cron reads the schedule in (<c>cron.timezone</c>, GMT by default).</summary>
    public required string TimeZone { get; init; }
    public required string Database { get; init; }
    public required string User { get; init; }
    /// <summary>True when the command refreshes a warehouse day (<c>_wh.update_mv_by_template</c>).</summary>
    public bool IsWarehouseJob => Template is not null;

    public override string ToString() => Name ?? $"job {JobId}";
}
