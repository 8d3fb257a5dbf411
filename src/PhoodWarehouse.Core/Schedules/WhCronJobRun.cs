namespace PhoodWarehouse.Core.Schedules;

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
