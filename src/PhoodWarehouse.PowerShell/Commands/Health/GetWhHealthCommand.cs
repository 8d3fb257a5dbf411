using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.PowerShell.Commands.Health;

/// <summary>
/// Runs the warehouse's health checks and writes one result per check (per tenant for TenantSize and Freshness),
/// for scripts such as <c>Get-WhHealth | Where-Object Status -ne 'Ok'</c>. Read-only.
/// </summary>
[Cmdlet(VerbsCommon.Get, "WhHealth")]
[OutputType(typeof(WhHealthCheck))]
public sealed class GetWhHealthCommand : WhCmdlet
{
    /// <summary>Which checks to run; all when left out.</summary>
    [Parameter(Position = 0)]
    [ValidateSet(HealthCheckNames.DatabaseSize, HealthCheckNames.TenantSize, HealthCheckNames.Connections, HealthCheckNames.LockHeadroom,
        HealthCheckNames.DeadTuples, HealthCheckNames.SlowStatements, HealthCheckNames.CronHistory, HealthCheckNames.CronFailures,
        HealthCheckNames.Freshness, HealthCheckNames.NeverAnalyzed, HealthCheckNames.RunLog, HealthCheckNames.Replicas, HealthCheckNames.FutureTimes, HealthCheckNames.Views)]
    public string[] Check { get; set; } = [];

    private static readonly HealthThresholds Defaults = new();

    [Parameter] [ValidateRange(1e-9, double.MaxValue)] public double DatabaseSizeWarningGB { get; set; } = Defaults.DatabaseSizeWarningGB;
    [Parameter] [ValidateRange(1e-9, double.MaxValue)] public double DatabaseSizeCriticalGB { get; set; } = Defaults.DatabaseSizeCriticalGB;
    [Parameter] [ValidateRange(1e-9, double.MaxValue)] public double TenantSizeWarningGB { get; set; } = Defaults.TenantSizeWarningGB;
    [Parameter] [ValidateRange(1, 100)] public int ConnectionsWarningPercent { get; set; } = Defaults.ConnectionsWarningPercent;
    [Parameter] [ValidateRange(1, 100)] public int ConnectionsCriticalPercent { get; set; } = Defaults.ConnectionsCriticalPercent;
    [Parameter] [ValidateRange(1, 100)] public int LockHeadroomWarningPercent { get; set; } = Defaults.LockHeadroomWarningPercent;
    [Parameter] [ValidateRange(1, 100)] public int LockHeadroomCriticalPercent { get; set; } = Defaults.LockHeadroomCriticalPercent;
    [Parameter] [ValidateRange(1, 100)] public int DeadTupleWarningPercent { get; set; } = Defaults.DeadTupleWarningPercent;
    [Parameter] [ValidateRange(0, long.MaxValue)] public long DeadTupleMinimum { get; set; } = Defaults.DeadTupleMinimum;
    [Parameter] [ValidateRange(0.001, double.MaxValue)] public double SlowStatementMilliseconds { get; set; } = Defaults.SlowStatementMilliseconds;
    [Parameter] [ValidateRange(1, long.MaxValue)] public long CronHistoryWarningRows { get; set; } = Defaults.CronHistoryWarningRows;
    [Parameter] [ValidateRange(1, int.MaxValue)] public int CronFailuresCritical { get; set; } = Defaults.CronFailuresCritical;
    [Parameter] [ValidateRange(1, 3650)] public int FreshnessDays { get; set; } = Defaults.FreshnessDays;
    [Parameter] [ValidateRange(0.001, double.MaxValue)] public double ReplicaLagWarningSeconds { get; set; } = Defaults.ReplicaLagWarningSeconds;
    [Parameter] [ValidateRange(0.001, double.MaxValue)] public double ReplicaLagCriticalSeconds { get; set; } = Defaults.ReplicaLagCriticalSeconds;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var limits = new HealthThresholds
        {
            DatabaseSizeWarningGB = DatabaseSizeWarningGB,
            DatabaseSizeCriticalGB = DatabaseSizeCriticalGB,
            TenantSizeWarningGB = TenantSizeWarningGB,
            ConnectionsWarningPercent = ConnectionsWarningPercent,
            ConnectionsCriticalPercent = ConnectionsCriticalPercent,
            LockHeadroomWarningPercent = LockHeadroomWarningPercent,
            LockHeadroomCriticalPercent = LockHeadroomCriticalPercent,
            DeadTupleWarningPercent = DeadTupleWarningPercent,
            DeadTupleMinimum = DeadTupleMinimum,
            SlowStatementMilliseconds = SlowStatementMilliseconds,
            CronHistoryWarningRows = CronHistoryWarningRows,
            CronFailuresCritical = CronFailuresCritical,
            FreshnessDays = FreshnessDays,
            ReplicaLagWarningSeconds = ReplicaLagWarningSeconds,
            ReplicaLagCriticalSeconds = ReplicaLagCriticalSeconds,
        };
        try
        {
            var results = Run(cancel => new HealthInspector(warehouse, Logger).RunAsync(Check, limits, cancel));
            WriteObject(results, enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
