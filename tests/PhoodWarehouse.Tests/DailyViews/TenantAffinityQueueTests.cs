namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>How backfill days are handed to workers: a worker stays with its tenant (its kept source connection).</summary>
public sealed class TenantAffinityQueueTests
{
    private static readonly DateOnly First = new(2026, 1, 1);

    private static IEnumerable<BackfillDay> Days(string tenant, int count) =>
        Enumerable.Range(0, count).Select(i => new BackfillDay(tenant, tenant, "foodlogstats", First.AddDays(i), false));

    [Fact]
    public void A_worker_drains_its_tenant_in_date_order_then_takes_a_tenant_nobody_works_on()
    {
        var queue = new TenantAffinityQueue(Days("t1", 3).Concat(Days("t2", 3)).Concat(Days("t3", 3)).Concat(Days("t4", 3)));
        string? a = null, b = null;
        var taken = new List<(string Worker, BackfillDay Day)>();
        // Two workers, taking turns: each keeps to one tenant until it is drained.
        while (true)
        {
            var moreA = queue.TryTake(ref a, out var dayA);
            if (moreA) taken.Add(("a", dayA));
            var moreB = queue.TryTake(ref b, out var dayB);
            if (moreB) taken.Add(("b", dayB));
            if (!moreA && !moreB) break;
        }

        Assert.Equal(12, taken.Count);
        Assert.Equal(0, queue.Count);
        foreach (var worker in new[] { "a", "b" })
        {
            var tenants = taken.Where(t => t.Worker == worker).Select(t => t.Day.Tenant).ToList();
            // No tenant switch back and forth: each tenant's days are one run in the worker's sequence.
            var runs = tenants.Where((t, i) => i == 0 || tenants[i - 1] != t).ToList();
            Assert.Equal(runs.Distinct().Count(), runs.Count);
        }
        Assert.All(taken.GroupBy(t => t.Day.Tenant), g => Assert.Single(g.Select(t => t.Worker).Distinct()));
        Assert.All(taken.GroupBy(t => t.Day.Tenant), g => Assert.Equal(g.Select(t => t.Day.Date).Order(), g.Select(t => t.Day.Date)));
        Assert.Equal(["t1", "t2"], taken.Take(2).Select(t => t.Day.Tenant));
        Assert.Null(a);
        Assert.Null(b);
    }

    [Fact]
    public void One_tenant_with_many_days_gets_every_worker()
    {
        var queue = new TenantAffinityQueue(Days("big", 12));
        var workers = new string?[4];
        var served = new HashSet<int>();
        for (var round = 0; round < 3; round++)
            for (var w = 0; w < workers.Length; w++)
                if (queue.TryTake(ref workers[w], out var day))
                {
                    Assert.Equal("big", day.Tenant);
                    served.Add(w);
                }
        Assert.Equal(4, served.Count);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void When_every_tenant_is_taken_a_free_worker_helps_the_tenant_with_the_most_days_left()
    {
        var queue = new TenantAffinityQueue(Days("small", 2).Concat(Days("large", 8)));
        string? a = null, b = null, c = null;
        Assert.True(queue.TryTake(ref a, out _));
        Assert.True(queue.TryTake(ref b, out _));
        Assert.Equal(("small", "large"), (a, b));
        Assert.True(queue.TryTake(ref c, out var helped));
        Assert.Equal("large", helped.Tenant);
    }

    [Fact]
    public void A_batch_is_a_fair_share_of_the_tenants_days_left_of_one_template_and_stops_at_a_day_that_goes_alone()
    {
        var copies = Enumerable.Range(0, 4).Select(i => new BackfillDay("t1", "t1", "copy", First.AddDays(40 + i), false));
        var queue = new TenantAffinityQueue(Days("t1", 40).Concat(copies));
        var alone = First.AddDays(30);
        bool Batchable(BackfillDay day) => day.Date != alone;
        string? a = null, b = null;

        // 44 days, 2 workers: a fair share is 22, capped at 16.
        Assert.True(queue.TryTakeBatch(ref a, Batchable, 16, 2, out var first));
        Assert.Equal(Enumerable.Range(0, 16).Select(First.AddDays), first.Select(d => d.Date));
        // 28 left: 14 each.
        Assert.True(queue.TryTakeBatch(ref b, Batchable, 16, 2, out var second));
        Assert.Equal(Enumerable.Range(16, 14).Select(First.AddDays), second.Select(d => d.Date));
        // The day that goes alone ends a batch, and is a batch of its own.
        Assert.True(queue.TryTakeBatch(ref a, Batchable, 16, 2, out var third));
        Assert.Equal([First.AddDays(30)], third.Select(d => d.Date));
        // 13 left: 7 at most.
        Assert.True(queue.TryTakeBatch(ref a, Batchable, 16, 2, out var fourth));
        Assert.Equal(Enumerable.Range(31, 7).Select(First.AddDays), fourth.Select(d => d.Date));
        // A batch keeps to one template: 3 would be a fair share of the 6 left, the fourth day is another template's.
        Assert.True(queue.TryTakeBatch(ref b, Batchable, 16, 2, out var fifth));
        Assert.Equal([First.AddDays(38), First.AddDays(39)], fifth.Select(d => d.Date));
        Assert.True(queue.TryTakeBatch(ref b, Batchable, 16, 2, out var sixth));
        Assert.Equal(2, sixth.Count);
        Assert.All(sixth, d => Assert.Equal("copy", d.Template));
        Assert.Equal(2, queue.Count);
    }
}
