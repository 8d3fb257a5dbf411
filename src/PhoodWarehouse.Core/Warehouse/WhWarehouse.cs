namespace PhoodWarehouse.Core.Warehouse;

/// <summary>The state of a warehouse database at a glance (Get-WhWarehouse).</summary>
public sealed record WhWarehouse
{
    public required string Server { get; init; }
    public required int Port { get; init; }
    public required string Database { get; init; }
    public required string User { get; init; }
    public required string ServerVersion { get; init; }
    /// <summary>The installed <c>_wh</c> schema version; null when the warehouse is not installed.</summary>
    public string? SchemaVersion { get; init; }
    /// <summary>The schema version this module needs (what Install-WhWarehouse installs).</summary>
    public required string RequiredSchemaVersion { get; init; }
    /// <summary>The version of this module (PhoodWarehouse).</summary>
    public required string ModuleVersion { get; init; }
    public bool Installed => SchemaVersion is not null;
    /// <summary>A warning when the installed schema is older or newer than this module needs; else null.</summary>
    public string? SchemaWarning { get; init; }
    public required bool Dblink { get; init; }
    public required bool PgCron { get; init; }
    public int TenantCount { get; init; }
    public int TemplateCount { get; init; }
    public int DailyViewCount { get; init; }
    public required long DatabaseSizeBytes { get; init; }
    public long? CronHistoryRows { get; init; }
    public long? CronHistorySizeBytes { get; init; }
    public required int MaxLocksPerTransaction { get; init; }
    /// <summary>Lock slots a query on the largest public view takes to plan (views, daily views and their indexes).</summary>
    public int LargestViewLocks { get; init; }
    /// <summary>The shared lock table: max_locks_per_transaction × (max_connections + max_prepared_transactions).</summary>
    public long LockCapacity { get; init; }
    /// <summary>A warning with the number and the setting to change when the largest view nears the lock table's size; else null.</summary>
    public string? LockWarning { get; init; }
    public required int MaxConnections { get; init; }
}
