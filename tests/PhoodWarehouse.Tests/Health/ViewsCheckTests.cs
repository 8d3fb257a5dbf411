using PhoodWarehouse.Core.Health;

namespace PhoodWarehouse.Tests.Health;

/// <summary>
/// Issue 29, item 2: Get-WhHealth said Ok while public.foodlogstats was gone (the guide's DROP SCHEMA tenant CASCADE takes
/// the cross-tenant view with it). The Views check finds the missing schema and public view, Critical, each with the
/// command that restores it; run, they make the check Ok again.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ViewsCheckTests(PostgresServer server)
{
    [Fact]
    public async Task A_dropped_tenant_schema_and_the_public_view_it_took_along_are_reported_with_their_fix()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("views_a", await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 2), "-BackfillFrom $WarehouseToday");
        wh.AddTenant("views_b", await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 2), "-BackfillFrom $WarehouseToday");
        Assert.Equal(WhHealthStatus.Ok, Views(wh).Single().Status);

        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var drop = new NpgsqlCommand("DROP SCHEMA views_a CASCADE", db))
            await drop.ExecuteNonQueryAsync();
        var found = Views(wh);
        Assert.All(found, c => Assert.Equal(WhHealthStatus.Critical, c.Status));
        Assert.Contains(found, c => c.Target == "views_a" && c.Message.Contains("Remove-WhTenant views_a"));
        Assert.Contains(found, c => c.Target == "public.foodlogstats" && c.Message.Contains("Update-WhUnionView -Public -Template foodlogstats"));

        Assert.True(wh.Run("Remove-WhTenant views_a -Confirm:$false; Update-WhUnionView -Public -Template foodlogstats -Confirm:$false").Succeeded);
        Assert.Equal(WhHealthStatus.Ok, Views(wh).Single().Status);
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    private static IReadOnlyList<WhHealthCheck> Views(WarehouseScenario wh)
    {
        var result = wh.Run("Get-WhHealth -Check Views");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        return result.All<WhHealthCheck>();
    }
}
