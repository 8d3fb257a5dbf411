namespace PhoodWarehouse.Core.Configuration;

public sealed record CronJobConfiguration
{
    public required string Name { get; init; }
    public required string Schedule { get; init; }
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    /// <summary>False when the job leaves yesterday's view alone after midnight (allow_refresh_yesterday => false).</summary>
    public bool RefreshYesterday { get; init; } = true;
    /// <summary>Days the job checks against the source once a day; absent (older files, guide-style jobs): 7.</summary>
    public int? LookbackDays { get; init; }
    public bool Active { get; init; } = true;
}
