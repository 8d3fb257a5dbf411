namespace PhoodWarehouse.Tests.Templates;

/// <summary>
/// Issue 27, item 7: a template whose query returns other columns than it declares (3 declared for 9 returned) was
/// saved, and every load then failed with dblink's words only. Set-WhTemplate -Tenant checks it against that tenant's
/// source and refuses it, saving nothing; without -Tenant, the first load names the template.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class TemplateFitTests(PostgresServer server)
{
    private const string Query =
        "SELECT f.id, f.logged_time, f.weight, f.cost, f.station, f.food_name, f.waste_reason, f.meal_period, f.location_id FROM phood_foodlogsum f " +
        "WHERE f.logged_time >= '{TARGET_DATE}'::date AND f.logged_time < '{TARGET_DATE}'::date + 1";

    [Fact]
    public async Task A_template_whose_columns_do_not_match_its_query_is_refused_with_Tenant_and_named_at_the_first_load()
    {
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 3);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("fit_a", source);
        var variables = new Dictionary<string, object?> { ["q"] = Query, ["cols"] = new[] { "id bigint", "logged_time timestamp", "weight numeric" } };

        var refused = wh.Run("Set-WhTemplate fit_t -Query $q -Columns $cols -Tenant fit_a -Confirm:$false", variables);
        refused.AssertError("TemplateDoesNotFitSource");
        Assert.Contains("9 columns", refused.FirstError!.ToString());
        Assert.Null(await wh.ScalarAsync<string?>("SELECT template_name FROM _wh.mv_templates WHERE template_name = 'fit_t'"));

        // Saved without -Tenant: the first load fails naming the template and what to do.
        Assert.True(wh.Run("Set-WhTemplate fit_t -Query $q -Columns $cols -Confirm:$false", variables).Succeeded);
        var load = wh.Run("Invoke-WhMvBackfill -Tenant fit_a -Template fit_t -From $WarehouseToday -ErrorAction SilentlyContinue");
        var day = Assert.Single(load.All<WhMvResult>());
        Assert.Equal(MvAction.Failed, day.Action);
        Assert.Contains("template fit_t: its query does not return the columns its column list declares", day.Error);
    }

    /// <summary>
    /// Issue 27, item 7: a first backfill of a template whose every day fails leaves nothing it created. Before, the
    /// tenant kept the template's view, its empty days tables and a place in the public view, and from then on counted
    /// as using the template (Test-WhMv reported its every day Missing).
    /// </summary>
    [Fact]
    public async Task A_first_backfill_whose_every_day_fails_leaves_nothing_it_created()
    {
        var source = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 3);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("fit_b", source).AssertSucceeded();
        // Every closed day of a window goes straight into <template>_closed, which the window's start makes.
        await wh.ScalarAsync<string>("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days' RETURNING value");
        var variables = new Dictionary<string, object?>
        {
            ["q"] = "SELECT f.id FROM no_such_table f WHERE f.day = '{TARGET_DATE}'::date",
            ["cols"] = new[] { "id bigint" },
        };
        wh.Run("Set-WhTemplate broken_t -Query $q -Columns $cols -Confirm:$false", variables).AssertSucceeded();
        const string relations =
            "SELECT string_agg(n.nspname || '.' || c.relname, ', ' ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE n.nspname IN ('fit_b', 'public') AND c.relkind IN ('r', 'v', 'm')";
        var before = await wh.ScalarAsync<string>(relations);

        var load = wh.Run("Invoke-WhMvBackfill -Tenant fit_b -Template broken_t -From ($WarehouseToday.AddDays(-3)) -ErrorAction SilentlyContinue");
        var days = load.All<WhMvResult>();
        Assert.Equal(4, days.Count);
        Assert.All(days, d => Assert.Equal(MvAction.Failed, d.Action));
        Assert.All(days, d => Assert.Contains("no_such_table", d.Error));

        Assert.Equal(before, await wh.ScalarAsync<string>(relations));
        Assert.DoesNotContain("broken_t", before);
        // The tenant does not use the template: Test-WhMv does not check it.
        var checks = wh.Run("Test-WhMv -Tenant fit_b -From ($WarehouseToday.AddDays(-3))").All<PhoodWarehouse.Core.DailyViews.WhMvCheck>();
        Assert.DoesNotContain(checks, c => c.Template == "broken_t");
    }
}
