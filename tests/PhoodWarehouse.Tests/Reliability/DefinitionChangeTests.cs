using System.Diagnostics;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Issue 18 item 2: when a definition must change (a new tenant joins the public view) while a long BI query runs, the
/// change waits in short attempts, so the other BI queries are not held behind it; when the attempts run out
/// (lock_timeout) it fails with LockTimeout and changes nothing, and it goes through once the long query is done.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DefinitionChangeTests(PostgresServer server)
{
    [Fact]
    public async Task A_view_change_behind_a_long_query_never_holds_up_the_short_ones_and_fails_cleanly_when_its_time_is_up()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("dc_a", await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 5), "-BackfillFrom $WarehouseToday");
        var second = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 5);
        await using (var admin = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var set = new NpgsqlCommand("UPDATE _wh.warehouse_info SET value = '3s' WHERE key = 'lock_timeout'", admin))
            await set.ExecuteNonQueryAsync();

        // The long BI query: its transaction holds public.foodlogstats.
        await using var longReader = await server.OpenAsync(wh.Database, "phood_ro");
        await using var extract = await longReader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", longReader, extract)) await read.ExecuteScalarAsync();

        // Short BI queries every 20 ms on their own connection while New-WhTenant tries to add dc_b to the public view.
        using var stop = new CancellationTokenSource();
        var worst = TimeSpan.Zero;
        var shortQueries = 0;
        var sampler = Task.Run(async () =>
        {
            await using var bi = await server.OpenAsync(wh.Database, "phood_ro");
            while (!stop.IsCancellationRequested)
            {
                var clock = Stopwatch.StartNew();
                await using (var query = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats WHERE client = 'dc_a'", bi))
                    await query.ExecuteScalarAsync();
                if (clock.Elapsed > worst) worst = clock.Elapsed;
                shortQueries++;
                await Task.Delay(20);
            }
        });
        var before = await wh.SnapshotAsync();
        var refused = wh.Run("New-WhTenant -Name dc_b -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c",
            WarehouseScenario.SourceVariables(second));
        stop.Cancel();
        await sampler;

        refused.AssertError("LockTimeout");
        Assert.Contains("nothing was changed", refused.FirstError!.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(CatalogSnapshot.WithoutRunLog(before), CatalogSnapshot.WithoutRunLog(await wh.SnapshotAsync()));
        Assert.True(shortQueries > 10, $"{shortQueries} short queries");
        // One attempt holds readers for at most 200 ms of lock_timeout; the bound for short queries is 1 s.
        Assert.True(worst < TimeSpan.FromSeconds(1), $"worst short query {worst.TotalMilliseconds:0} ms");

        await extract.CommitAsync();
        wh.AddTenant("dc_b", second);
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.view_references('public', 'foodlogstats', 'dc_b', 'foodlogstats')", "whadmin"));
    }
}
