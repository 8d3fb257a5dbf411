namespace PhoodWarehouse.Core.Schedules;

/// <summary>Which runs Get-WhCronJobRun returns (newest first).</summary>
public sealed record CronRunQuery
{
    public IReadOnlyList<NamePattern> Names { get; init; } = [];
    public DateTime? Since { get; init; }
    public bool FailedOnly { get; init; }
    public int? Last { get; init; }
    public bool All { get; init; }
}
