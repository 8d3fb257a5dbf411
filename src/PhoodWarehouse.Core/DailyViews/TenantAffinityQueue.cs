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
}
