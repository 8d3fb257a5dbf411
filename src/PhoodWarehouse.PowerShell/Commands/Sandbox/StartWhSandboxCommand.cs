using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.PowerShell.Commands.Sandbox;

/// <summary>
/// Starts a throwaway local warehouse: PostgreSQL in a folder of its own (pg_cron preloaded when installed),
/// the warehouse installed, sample tenant sources with generated data, and this session connected as whadmin.
/// A WhAsyncCmdlet, not a WhCmdlet: it makes the connection rather than taking one, so it has no -Connection.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "WhSandbox", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhSandbox))]
public sealed class StartWhSandboxCommand : WhAsyncCmdlet
{
    [Parameter(Position = 0)]
    [ValidateRange(0, 26)]
    public int TenantCount { get; set; } = 3;

    [Parameter]
    [ValidateRange(1, 3660)]
    public int Days { get; set; } = 30;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    [Parameter]
    public SwitchParameter Replica { get; set; }

    /// <summary>The TCP port the sandbox listens on (127.0.0.1); a free one when left out.</summary>
    [Parameter]
    [ValidateRange(1024, 65535)]
    public int? Port { get; set; }

    /// <summary>Also start Prometheus' postgres_exporter as the monitoring login (its metrics at $sandbox.MetricsUrl).</summary>
    [Parameter]
    public SwitchParameter Monitoring { get; set; }

    protected override void EndProcessing()
    {
        var options = new SandboxOptions
        {
            TenantCount = TenantCount,
            Days = Days,
            Path = Path is null ? null : GetUnresolvedProviderPathFromPSPath(Path),
            Replica = Replica,
            Port = Port,
            Monitoring = Monitoring,
        };
        if (!ShouldProcess("local PostgreSQL sandbox", "Start: " + string.Join("; ", SandboxFactory.Plan(options)))) return;

        try
        {
            var sandbox = Run(cancel => SandboxFactory.StartAsync(options, Logger, cancel));
            WhConnection connection;
            try
            {
                connection = Run(cancel => WarehouseConnector.ConnectAsync(
                    new ConnectionRequest { ConnectionString = sandbox.GetConnectionString() }, Logger, cancel));
            }
            catch
            {
                sandbox.Stop();
                throw;
            }
            DefaultConnection.Set(connection);
            SandboxSessions.Add(sandbox, connection);
            WriteVerbose($"Sandbox running at {sandbox.Endpoint}; this session is connected to it as whadmin. Stop-WhSandbox stops it and deletes {sandbox.DataFolder}.");
            if (sandbox.ReplicaPort is { } replica)
                WriteVerbose($"Its streaming hot standby listens on {sandbox.Server}:{replica}: BI on a replica is $sandbox.GetReplicaPhoodRoConnectionString().");
            if (sandbox.MetricsUrl is { } metrics)
                WriteVerbose($"postgres_exporter serves the warehouse's metrics at {metrics} (as phood_monitor; Stop-WhSandbox stops it).");
            WriteObject(sandbox);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
