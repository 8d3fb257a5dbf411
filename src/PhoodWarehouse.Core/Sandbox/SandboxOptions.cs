namespace PhoodWarehouse.Core.Sandbox;

/// <summary>What Start-WhSandbox asks for.</summary>
public sealed record SandboxOptions
{
    public int TenantCount { get; init; } = 3;
    public int Days { get; init; } = 30;
    public int RowsPerDay { get; init; } = 200;
    /// <summary>An empty or missing folder to hold the cluster; a new temp folder when null.</summary>
    public string? Path { get; init; }
    /// <summary>Also start a streaming hot standby beside the sandbox (hot_standby_feedback on), for BI on a replica.</summary>
    public bool Replica { get; init; }
    /// <summary>The port the sandbox listens on (127.0.0.1); a free one when null.</summary>
    public int? Port { get; init; }
    /// <summary>Also start Prometheus' postgres_exporter against it as the monitoring login (docs/monitoring.md).</summary>
    public bool Monitoring { get; init; }
    public const string Database = "phood_warehouse";
    public const string SourceUser = "sample_reader";
}
