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

/// <summary>One run of a pg_cron job, from <c>cron.job_run_details</c>.</summary>
public sealed record WhCronJobRun
{
    public required long JobId { get; init; }
    public required long RunId { get; init; }
    /// <summary>The job's name; null when the job has been unregistered since.</summary>
    public string? Name { get; init; }
    /// <summary>pg_cron's status: starting, running, sending, connecting, succeeded or failed.</summary>
    public required string Status { get; init; }
    public DateTime? Start { get; init; }
    public DateTime? End { get; init; }
    public TimeSpan? Duration => Start is { } start && End is { } end ? end - start : null;
    /// <summary>What the command returned ("1 row") or the error it failed with.</summary>
    public string? Message { get; init; }
    public string? Command { get; init; }
    public bool Failed => Status == "failed";
}

/// <summary>What Clear-WhCronJobRun deleted.</summary>
public sealed record WhCronHistoryCleared(long Deleted, TimeSpan OlderThan, DateTime CutoffUtc, string User);
