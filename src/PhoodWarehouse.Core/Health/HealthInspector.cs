using System.Globalization;
using PhoodWarehouse.Core.Warehouse;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>
/// The guide's "Monitoring and Health Checks" as checks with a status: sizes, connections, lock headroom of the
/// public views (architecture fact 3), dead rows, slow statements, pg_cron history and failures, freshness of every
/// tenant, daily views without planner statistics, streaming replicas. Read-only; works as whadmin or as a superuser.
/// </summary>
public sealed class HealthInspector(WhConnection connection, ILogger logger)
{
    /// <summary>Every check, once, in the order Get-WhHealth reports them: the one list (HealthCheckNames.All is read from it).</summary>
    internal static readonly IReadOnlyList<HealthCheck> Checks =
    [
        new DatabaseSizeCheck(), new TenantSizeCheck(), new ConnectionsCheck(), new LockHeadroomCheck(), new DeadTuplesCheck(),
        new SlowStatementsCheck(), new CronCheck(history: true), new CronCheck(history: false), new FreshnessCheck(),
        new NeverAnalyzedCheck(), new RunLogCheck(), new ReplicasCheck(), new FutureTimesCheck(), new ViewsCheck(),
    ];

    public async Task<IReadOnlyList<WhHealthCheck>> RunAsync(IReadOnlyCollection<string> checks, HealthThresholds limits, CancellationToken cancel)
    {
        var wanted = checks.Count == 0 ? HealthCheckNames.All : HealthCheckNames.All.Where(c => checks.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        var unknown = checks.Where(c => !HealthCheckNames.All.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
            throw new WarehouseException("UnknownHealthCheck", WhErrorKind.InvalidArgument,
                $"There is no health check named '{string.Join("', '", unknown)}'. Checks: {string.Join(", ", HealthCheckNames.All)}.", unknown[0]);
        if (connection.WarehouseVersion is null)
            throw Install.SchemaVersion.NotInstalled(connection);

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        // Freshness and TenantSize are two projections of one reading of the freshness engine (_wh.freshness), read on
        // a second connection while the other checks run on this one, in order; the checks that need the engine's rows
        // run last, so the run takes the longer of the two connections' work, not their sum. Results come in the list's order.
        var selected = Checks.Where(c => wanted.Contains(c.Name)).ToList();
        var reading = new HealthReading(db, limits,
            selected.Any(c => c.NeedsFreshness) ? ReadFreshnessAsync(limits.FreshnessDays, cancel) : null);
        var found = new Dictionary<HealthCheck, IEnumerable<WhHealthCheck>>();
        foreach (var check in selected.OrderBy(c => c.NeedsFreshness))
        {
            logger.LogInformation("Checking {Check}", check.Name);
            found[check] = await check.RunAsync(reading, cancel);
        }
        return selected.SelectMany(c => found[c]).ToList();
    }

    private async Task<List<DailyViews.WhMvFreshness>> ReadFreshnessAsync(int days, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        return await DailyViews.DailyViewCatalog.ReadFreshnessAsync(db, days, null, null, cancel);
    }
}
