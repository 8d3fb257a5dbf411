using System.Security;
using PhoodWarehouse.Core.Local;

namespace PhoodWarehouse.Core.Sandbox;

/// <summary>
/// A running throwaway warehouse: a local PostgreSQL cluster in its own folder with the warehouse installed,
/// whadmin, phood_ro and phood_monitor given random passwords, optionally postgres_exporter serving its metrics, and tenant source databases full of generated data.
/// Its connection strings hold passwords, so they are methods, not properties: no table, list view, export or
/// property dump ever shows them (the source password is a SecureString). <see cref="Stop"/> deletes everything.
/// </summary>
public sealed class WhSandbox : IDisposable
{
    private readonly LocalPostgresCluster cluster;

    private readonly MonitoringExporter? exporter;

    internal WhSandbox(LocalPostgresCluster cluster, string database, string whadminPassword, string phoodRoPassword, string phoodMonitorPassword,
        string sourceUser, SecureString sourcePassword, IReadOnlyList<WhSandboxTenant> tenants, MonitoringExporter? exporter = null)
    {
        this.cluster = cluster;
        this.exporter = exporter;
        PhoodMonitorPassword = phoodMonitorPassword;
        Database = database;
        WhadminPassword = whadminPassword;
        PhoodRoPassword = phoodRoPassword;
        SourceUser = sourceUser;
        SourcePassword = sourcePassword;
        Tenants = tenants;
        StartedAt = DateTimeOffset.Now;
    }

    public string Server => cluster.Host;
    public int Port => cluster.Port;
    public string Database { get; }
    public string DataFolder => cluster.Folder;
    public bool PgCron => cluster.PgCronPreloaded;
    /// <summary>The port of the sandbox's streaming hot standby (Start-WhSandbox -Replica); null without one.</summary>
    public int? ReplicaPort => cluster.Standbys.FirstOrDefault()?.Port;
    /// <summary>The standby's folder (deleted by <see cref="Stop"/> too); null without one.</summary>
    public string? ReplicaFolder => cluster.Standbys.FirstOrDefault()?.Folder;
    public IReadOnlyList<WhSandboxTenant> Tenants { get; }
    /// <summary>The read-only login every sample tenant source shares (see the SourceCredential property in PowerShell).</summary>
    public string SourceUser { get; }
    public SecureString SourcePassword { get; }
    public DateTimeOffset StartedAt { get; }
    public bool IsRunning { get; private set; } = true;

    internal string WhadminPassword { get; }
    internal string PhoodRoPassword { get; }
    internal string PhoodMonitorPassword { get; }

    /// <summary>Where postgres_exporter serves the warehouse's metrics (Start-WhSandbox -Monitoring); null without it.</summary>
    public string? MetricsUrl => exporter?.MetricsUrl;

    /// <summary>The monitoring login's connection string, password included: what Grafana or a collector would use.</summary>
    public string GetPhoodMonitorConnectionString() => cluster.ConnectionString(Database, "phood_monitor", PhoodMonitorPassword);

    /// <summary>whadmin's connection string, password included: <c>Connect-WhWarehouse -ConnectionString $sandbox.GetConnectionString()</c>.</summary>
    public string GetConnectionString() => cluster.ConnectionString(Database, "whadmin", WhadminPassword);

    /// <summary>The BI login's connection string, password included: what a reporting tool would use.</summary>
    public string GetPhoodRoConnectionString() => cluster.ConnectionString(Database, "phood_ro", PhoodRoPassword);

    /// <summary>The BI login's connection string to the standby (Start-WhSandbox -Replica), password included; null without one.</summary>
    public string? GetReplicaPhoodRoConnectionString() =>
        cluster.Standbys.FirstOrDefault()?.ConnectionString(Database, "phood_ro", PhoodRoPassword);

    /// <summary>The postgres superuser's connection string (the sandbox is a toy: look at anything).</summary>
    public string GetSuperuserConnectionString() => cluster.ConnectionString(Database);

    /// <summary>Where the sandbox is, without secrets: for tables and messages.</summary>
    public string Endpoint => $"{Server}:{Port}/{Database}";

    public override string ToString() => $"sandbox whadmin@{Endpoint} ({DataFolder})";

    /// <summary>Stops the server (and its standby) and deletes <see cref="DataFolder"/> (and the standby's). Safe to call twice.</summary>
    public void Stop()
    {
        if (!IsRunning) return;
        IsRunning = false;
        exporter?.Dispose();
        NpgsqlConnection.ClearAllPools();
        cluster.Dispose();
        SandboxFactory.Forget(this);
    }

    public void Dispose() => Stop();
}
