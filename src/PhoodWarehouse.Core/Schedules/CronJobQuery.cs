namespace PhoodWarehouse.Core.Schedules;

/// <summary>Which jobs Get-WhCronJob returns.</summary>
public sealed record CronJobQuery
{
    public IReadOnlyList<NamePattern> Names { get; init; } = [];
    public string? Tenant { get; init; }
    /// <summary>Every pg_cron job the user can see, not only the warehouse's refresh jobs.</summary>
    public bool All { get; init; }
}
