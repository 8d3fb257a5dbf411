namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// The days of a backfill, one queue per tenant, handed out so that a worker stays with its tenant: its session
/// keeps one dblink connection to that tenant's source (<c>_wh.session_dblink</c>), and every tenant switch costs a
/// new one (30-50 ms) and closes the old. A worker drains its tenant, then takes a tenant nobody works on (in
/// plan order); only when every tenant is taken does it help the tenant with the most days left (one tenant with
/// a year of days still gets every worker). Thread-safe.
/// </summary>
public sealed class TenantAffinityQueue
{
    private readonly object gate = new();
    private readonly List<string> order = [];
    private readonly Dictionary<string, Queue<BackfillDay>> days = [];
    private readonly Dictionary<string, int> workers = [];

    public TenantAffinityQueue(IEnumerable<BackfillDay> plannedDays)
    {
        foreach (var day in plannedDays)
        {
            if (!days.TryGetValue(day.Tenant, out var queue))
            {
                days[day.Tenant] = queue = new Queue<BackfillDay>();
                workers[day.Tenant] = 0;
                order.Add(day.Tenant);
            }
            queue.Enqueue(day);
        }
    }

    public int Count
    {
        get { lock (gate) return days.Values.Sum(q => q.Count); }
    }

    /// <summary>
    /// The next day for a worker now on <paramref name="tenant"/> (null: none yet); <paramref name="tenant"/> becomes
    /// the day's tenant. False when no day is left: the worker is then on no tenant.
    /// </summary>
    public bool TryTake(ref string? tenant, out BackfillDay day)
    {
        lock (gate)
        {
            if (tenant is not null && days[tenant].TryDequeue(out day!)) return true;
            if (tenant is not null) workers[tenant]--;
            tenant = order.FirstOrDefault(t => workers[t] == 0 && days[t].Count > 0)
                     ?? order.Where(t => days[t].Count > 0).OrderByDescending(t => days[t].Count / (double)(workers[t] + 1)).FirstOrDefault();
            if (tenant is null)
            {
                day = null!;
                return false;
            }
            workers[tenant]++;
            day = days[tenant].Dequeue();
            return true;
        }
    }

    /// <summary>
    /// As <see cref="TryTake"/>, then, when that day is <paramref name="batchable"/>, the days after it in its tenant's
    /// queue that are batchable too and of the same template, up to <paramref name="most"/> days in all and no more than
    /// a fair share of what the tenant has left (its days spread over <paramref name="workerCount"/> workers), so that a
    /// batch never leaves another worker idle at the end.
    /// </summary>
    public bool TryTakeBatch(ref string? tenant, Func<BackfillDay, bool> batchable, int most, int workerCount, out List<BackfillDay> batch)
    {
        lock (gate)
        {
            batch = [];
            if (!TryTake(ref tenant, out var first)) return false;
            batch.Add(first);
            if (!batchable(first)) return true;
            var queue = days[tenant!];
            var share = Math.Max(1, Math.Min(most, (queue.Count + 1 + workerCount - 1) / Math.Max(1, workerCount)));
            while (batch.Count < share && queue.TryPeek(out var next) && next.Template == first.Template && batchable(next))
                batch.Add(queue.Dequeue());
            return true;
        }
    }
}
