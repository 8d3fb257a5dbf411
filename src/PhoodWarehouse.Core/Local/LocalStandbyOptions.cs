namespace PhoodWarehouse.Core.Local;

/// <summary>Settings for a streaming hot standby of a throwaway cluster (<see cref="LocalPostgresCluster.StartStandby"/>).</summary>
public sealed record LocalStandbyOptions
{
    /// <summary>Folder to create the standby in; a new temp folder when null. Deleted on dispose.</summary>
    public string? Path { get; init; }
    /// <summary>
    /// hot_standby_feedback: on (the default here) keeps the primary's vacuum from removing rows a standby query still
    /// reads, so that snapshot conflicts never cancel BI queries (docs/scale-out.md).
    /// </summary>
    public bool HotStandbyFeedback { get; init; } = true;
    /// <summary>Extra postgresql.conf lines; max_standby_streaming_delay and the rest stay PostgreSQL's defaults otherwise.</summary>
    public IReadOnlyList<string> ExtraSettings { get; init; } = [];
}
