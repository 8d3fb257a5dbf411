using System.Globalization;
using PhoodWarehouse.Core.DailyViews;
using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Core.Health;

/// <summary>The locks a query on the largest public view takes, against the shared lock table.</summary>
internal sealed class LockHeadroomCheck : HealthCheck
{
    public override string Name => HealthCheckNames.LockHeadroom;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        // Planning a query on a view locks the view, every relation it reaches through view rules, and every index of
        // those relations (architecture fact 3). The shared lock table holds
        // max_locks_per_transaction × (max_connections + max_prepared_transactions) locks for all sessions together.
        var headroom = await LockHeadroom.ReadAsync(db, cancel);
        var (perTransaction, slots) = (headroom.MaxLocksPerTransaction, headroom.Slots);
        var capacity = (long)perTransaction * slots;
        var threshold = $"warning {limits.LockHeadroomWarningPercent}%, critical {limits.LockHeadroomCriticalPercent}% of max_locks_per_transaction × (max_connections + max_prepared_transactions) = {perTransaction} × {slots} = {capacity}";
        if (headroom.View is null)
            return [Ok(HealthCheckNames.LockHeadroom, $"no public views; lock table {capacity}", threshold, "No public views yet.")];

        var (view, relations, indexes) = (headroom.View, headroom.Relations, headroom.Indexes);
        var locks = headroom.Locks;
        var percent = 100.0 * locks / capacity;
        var status = percent >= limits.LockHeadroomCriticalPercent ? WhHealthStatus.Critical
            : percent >= limits.LockHeadroomWarningPercent ? WhHealthStatus.Warning : WhHealthStatus.Ok;
        // The setting that keeps one query under the warning share: locks × 100 / warning% spread over the slots.
        var needed = headroom.SettingFor(locks, limits.LockHeadroomWarningPercent);
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.LockHeadroom, Target = view, Status = status,
            Value = $"{locks} locks ({relations} relations + {indexes} indexes) = {percent:0.#}% of {capacity}",
            Threshold = threshold,
            Message = status == WhHealthStatus.Ok
                ? $"A query on {view} takes {locks} of {capacity} lock slots."
                : $"A query on {view} locks {locks} relations and indexes; a few concurrent ones fail with 'out of shared memory, increase max_locks_per_transaction'. " +
                  $"Raise max_locks_per_transaction from {perTransaction} to at least {needed} in postgresql.conf (needs a restart), drop daily views older than you report on, or point BI tools at the tenant views.",
        }];
    }
}
