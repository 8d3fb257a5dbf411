namespace PhoodWarehouse.Core.Health;

/// <summary>The limits Get-WhHealth compares with; every one has a default that suits a nightly automation script.</summary>
public sealed record HealthThresholds
{
    public double DatabaseSizeWarningGB { get; init; } = 200;
    public double DatabaseSizeCriticalGB { get; init; } = 500;
    public double TenantSizeWarningGB { get; init; } = 50;
    /// <summary>Share of usable connections (max_connections minus the reserved ones) in use.</summary>
    public int ConnectionsWarningPercent { get; init; } = 80;
    public int ConnectionsCriticalPercent { get; init; } = 95;
    /// <summary>
    /// Share of the lock table that one query on the largest public view takes. Each concurrent BI query takes as
    /// many again: at 50 % two of them exhaust it.
    /// </summary>
    public int LockHeadroomWarningPercent { get; init; } = 25;
    public int LockHeadroomCriticalPercent { get; init; } = 50;
    public int DeadTupleWarningPercent { get; init; } = 20;
    /// <summary>Tables with fewer dead rows than this are not worth a VACUUM whatever the ratio.</summary>
    public long DeadTupleMinimum { get; init; } = 1000;
    public double SlowStatementMilliseconds { get; init; } = 1000;
    public long CronHistoryWarningRows { get; init; } = 100_000;
    /// <summary>Failed pg_cron runs in the last 24 hours at which the check turns Critical (any failure is a Warning).</summary>
    public int CronFailuresCritical { get; init; } = 3;
    /// <summary>
    /// How many days back (ending today on each tenant's clock) the freshness check looks for missing, partial and
    /// changed days: Get-WhMvFreshness's default window (<see cref="DailyViews.FreshnessWindow"/>), so both agree.
    /// </summary>
    public int FreshnessDays { get; init; } = DailyViews.FreshnessWindow.DefaultDays;
    /// <summary>
    /// Replay lag of a streaming replica at which its check turns Warning: a standby's default
    /// max_standby_streaming_delay, past which replay cancels the queries it waits for.
    /// </summary>
    public double ReplicaLagWarningSeconds { get; init; } = 30;
    public double ReplicaLagCriticalSeconds { get; init; } = 300;
}
