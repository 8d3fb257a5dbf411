namespace PhoodWarehouse.Core.Schedules;

/// <summary>What Register-WhCronJob asks for.</summary>
public sealed record CronJobRequest
{
    /// <summary>The tenant's schema.</summary>
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required string Schedule { get; init; }
    /// <summary>The job name; <c>wh_&lt;tenant&gt;_&lt;template&gt;</c> when null.</summary>
    public string? Name { get; init; }
    /// <summary>False passes <c>allow_refresh_yesterday =&gt; false</c>: after midnight the job leaves yesterday's view alone.</summary>
    public bool RefreshYesterday { get; init; } = true;
    /// <summary>Closed days before yesterday the job checks against the source once a day (re-loading those that differ); 0: no check.</summary>
    public int LookbackDays { get; init; } = 7;
}
