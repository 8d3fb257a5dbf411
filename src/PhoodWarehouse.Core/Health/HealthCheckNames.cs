namespace PhoodWarehouse.Core.Health;

/// <summary>The checks Get-WhHealth knows, in the order it runs them.</summary>
public static class HealthCheckNames
{
    public const string DatabaseSize = nameof(DatabaseSize);
    public const string TenantSize = nameof(TenantSize);
    public const string Connections = nameof(Connections);
    public const string LockHeadroom = nameof(LockHeadroom);
    public const string DeadTuples = nameof(DeadTuples);
    public const string SlowStatements = nameof(SlowStatements);
    public const string CronHistory = nameof(CronHistory);
    public const string CronFailures = nameof(CronFailures);
    public const string Freshness = nameof(Freshness);
    public const string NeverAnalyzed = nameof(NeverAnalyzed);
    public const string RunLog = nameof(RunLog);
    public const string Replicas = nameof(Replicas);
    public const string FutureTimes = nameof(FutureTimes);
    public const string Views = nameof(Views);

    /// <summary>Every check's name, in the order Get-WhHealth reports them (read from the one list of checks).</summary>
    public static IReadOnlyList<string> All { get; } = HealthInspector.Checks.Select(c => c.Name).ToList();
}
