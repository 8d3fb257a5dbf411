namespace PhoodWarehouse.Core.Warehouse;

/// <summary>The state of a warehouse database at a glance (Get-WhWarehouse).</summary>
public sealed record WhWarehouse
{
    public required string Server { get; init; }
    public required int Port { get; init; }
    public required string Database { get; init; }
    public required string User { get; init; }
    public required string ServerVersion { get; init; }
    public string? SchemaVersion { get; init; }
    public bool Installed => SchemaVersion is not null;
    public required bool Dblink { get; init; }
    public required bool PgCron { get; init; }
    public int TenantCount { get; init; }
    public int TemplateCount { get; init; }
    public int DailyViewCount { get; init; }
    public required long DatabaseSizeBytes { get; init; }
    public long? CronHistoryRows { get; init; }
    public long? CronHistorySizeBytes { get; init; }
    public required int MaxLocksPerTransaction { get; init; }
    public required int MaxConnections { get; init; }
}
