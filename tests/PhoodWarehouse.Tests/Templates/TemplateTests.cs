using PhoodWarehouse.Core.Templates;

namespace PhoodWarehouse.Tests.Templates;

[Collection(WarehouseCollection.Name)]
public sealed class TemplateTests(PostgresServer server)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());

    [Fact]
    public async Task The_guides_inventory_stats_file_loads_twice_tests_clean_backfills_and_is_removed_only_with_Force()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 5);
        await server.ExecuteAsync(source.Database,
            $"""
            CREATE TABLE inventory_movements (id integer PRIMARY KEY, location_id integer REFERENCES locations (id), item_name text,
                                              current_stock integer, movement_type text, quantity_change integer, "timestamp" timestamp);
            INSERT INTO inventory_movements
            SELECT g, (SELECT min(id) FROM locations), 'item ' || g, 100 - g, CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END, g % 7,
                   current_date - (g % 3) + interval '1 hour' * (g % 20)
            FROM generate_series(1, 30) g;
            GRANT SELECT ON inventory_movements TO "{source.ReaderUser}";
            """);
        wh.AddTenant("inv", source);
        var folder = Directory.CreateTempSubdirectory("wh-template-");
        var file = Path.Combine(folder.FullName, "template-inventory_stats.sql");
        await File.WriteAllTextAsync(file, GuideExamples.InventoryStatsTemplate + ";\n");
        var vars = new Dictionary<string, object?> { ["file"] = file };

        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("Set-WhTemplate -Path $file -WhatIf", vars);
        whatIf.AssertSucceeded();
        Assert.Empty(whatIf.Output);
        Assert.Equal([$"Run template file: add template inventory_stats | {file}"], whatIf.WhatIf);
        Assert.Equal(before, await wh.SnapshotAsync());

        var added = wh.Run("Set-WhTemplate -Path $file", vars);
        Assert.True(added.Succeeded, string.Join("; ", added.AllErrors));
        var template = added.Single<WhTemplate>();
        Assert.Equal("inventory_stats", template.Name);
        Assert.Equal(7, template.Columns.Count);
        Assert.Equal(3, template.Indexes.Count);
        // The guide's file has no ON CONFLICT: running it again updates the template and keeps created_at.
        var again = wh.Run("Set-WhTemplate -Path $file", vars);
        Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
        Assert.Equal(template.CreatedAt, again.Single<WhTemplate>().CreatedAt);
        Assert.True(again.Single<WhTemplate>().UpdatedAt > template.UpdatedAt);

        var test = wh.Run("Test-WhTemplate -Name inventory_stats -Tenant inv").Single<WhTemplateTest>();
        Assert.True(test.Success, string.Join(" | ", test.Problems));
        Assert.True(test.PlaceholdersKnown && test.ColumnsParse && test.QueryRuns && test.ColumnsMatch);

        var backfill = wh.Run("Get-WhTenant inv | Invoke-WhMvBackfill -Template inventory_stats -From ($WarehouseToday.AddDays(-2))");
        Assert.True(backfill.Succeeded, string.Join("; ", backfill.AllErrors));
        Assert.All(backfill.All<WhMvResult>(), r => Assert.Equal(MvAction.Created, r.Action));
        Assert.Equal(30L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.inventory_stats", "phood_ro"));
        Assert.Equal(30L, backfill.All<WhMvResult>().Sum(r => r.Rows ?? 0));
        Assert.Equal(3, wh.Run("Get-WhTemplate inv*").Single<WhTemplate>().DailyViewCount);

        var refused = wh.Run("Remove-WhTemplate inventory_stats -Confirm:$false");
        refused.AssertError("TemplateInUse");
        Assert.Equal(3, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE matviewname LIKE 'inventory\\_stats\\_%'"));

        var removed = wh.Run("Get-WhTemplate inventory_stats | Remove-WhTemplate -Force -Confirm:$false");
        Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_class WHERE relname LIKE 'inventory\\_stats%'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.mv_templates WHERE template_name = 'inventory_stats'"));
        Assert.Equal(3, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.run_log WHERE template_name = 'inventory_stats' AND action = 'dropped'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        wh.Run("Get-WhTemplate inventory_stats").AssertError("TemplateNotFound");
        folder.Delete(recursive: true);
    }

    [Fact]
    public async Task Test_WhTemplate_reports_unknown_placeholders_column_count_and_type_mismatches_as_problems()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 3);
        wh.AddTenant("tt", source);
        const string query = "SELECT f.id::bigint, f.logged_time FROM phood_foodlogsum f WHERE f.logged_time >= '{TARGET_DATE}'::date AND f.logged_time < '{TARGET_DATE}'::date + 1";
        var vars = new Dictionary<string, object?> { ["q"] = query, ["bad"] = query.Replace("{TARGET_DATE}'::date + 1", "{TARGET_DAY}'::date + 1") };

        var placeholder = wh.Run("Test-WhTemplate -Tenant tt -Query $bad -Columns 'id bigint', 'logged_time timestamp'", vars).Single<WhTemplateTest>();
        Assert.False(placeholder.Success);
        Assert.False(placeholder.PlaceholdersKnown);
        Assert.Contains(placeholder.Problems, p => p.Contains("{TARGET_DAY}"));
        wh.Run("Set-WhTemplate -Name bad_placeholder -Query $bad -Columns 'id bigint', 'logged_time timestamp'", vars).AssertError("InvalidTemplate");

        var good = wh.Run("Test-WhTemplate -Tenant tt -Query $q -Columns 'id bigint', 'logged_time timestamp'", vars).Single<WhTemplateTest>();
        Assert.True(good.Success, string.Join(" | ", good.Problems));

        var added = wh.Run("Set-WhTemplate -Name few_columns -Query $q -Columns 'id bigint' -Description 'declares one column of two'", vars);
        Assert.True(added.Succeeded, string.Join("; ", added.AllErrors));
        var count = wh.Run("Test-WhTemplate few_columns -Tenant tt").Single<WhTemplateTest>();
        Assert.False(count.Success);
        Assert.True(count.QueryRuns);
        Assert.False(count.ColumnsMatch);
        Assert.Contains(count.Problems, p => p.Contains("returns 2 columns"));

        var typed = wh.Run("Set-WhTemplate -Name few_columns -Columns 'id integer', 'logged_time timestamp' | Test-WhTemplate -Tenant tt").Single<WhTemplateTest>();
        Assert.False(typed.Success);
        Assert.Contains(typed.Problems, p => p.Contains("column 1") && p.Contains("bigint"));
        Assert.Equal("declares one column of two", wh.Run("Get-WhTemplate few_columns").Single<WhTemplate>().Description);

        var broken = wh.Run("Test-WhTemplate -Tenant tt -Query 'SELECT nope FROM phood_foodlogsum WHERE {TARGET_DATE} IS NULL' -Columns 'nope text'").Single<WhTemplateTest>();
        Assert.False(broken.QueryRuns);
        Assert.Contains(broken.Problems, p => p.Contains("nope"));
        var columns = wh.Run("Test-WhTemplate -Tenant tt -Query $q -Columns 'id bigint', 'logged_time no_such_type'", vars).Single<WhTemplateTest>();
        Assert.False(columns.ColumnsParse);

        wh.Run("Test-WhTemplate nothing_like_it -Tenant tt").AssertError("TemplateNotFound");
        wh.Run("Test-WhTemplate few_columns -Tenant nobody").AssertError("TenantNotFound");
        wh.Run("Remove-WhTemplate nothing_like_it -Confirm:$false").AssertError("TemplateNotFound");
        // A template without daily views goes without -Force, with its tenant and public views.
        Assert.True(wh.Run("Update-WhUnionView -Tenant tt -Template few_columns").Succeeded);
        Assert.True(wh.Run("Remove-WhTemplate few_columns -Confirm:$false").Succeeded);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_class WHERE relname = 'few_columns'"));
    }


    /// <summary>
    /// Issue 28: removing a template was DDL spelled in C# (the only C# that named the days tables); it is the SQL
    /// layer's procedure now, which psql users can CALL too: refused while days exist unless forced, then every object of
    /// the template gone (public view, tenant views, daily views of both kinds, the days tables), each day logged.
    /// </summary>
    [Fact]
    public async Task A_template_is_removed_by_the_sql_procedure_that_psql_can_call_too()
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days'");
        await wh.ExecAsync(
            """
            INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
            SELECT 'rm_t', description, query_template, column_definitions, indexes FROM _wh.mv_templates WHERE template_name = 'foodlogstats'
            """);
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)");
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 5, firstDay: today.AddDays(-3));
        await wh.AddConnectionAsync("rm_conn", source);
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('rm_t', 'rm_conn', 'rm_tenant', $1, $2)", today.AddDays(-3), today);
        Assert.True(await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE template_name = 'rm_t' AND kind = 'v'") >= 1);

        var refused = await wh.FailsAsync("CALL _wh.remove_template('rm_t')", ["2BP01"]);
        Assert.Contains("force => true", refused.Hint);
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.mv_templates WHERE template_name = 'rm_t'"));

        await wh.ExecAsync("CALL _wh.remove_template('rm_t', force => true)");
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.mv_templates WHERE template_name = 'rm_t'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('rm_tenant', 'public') AND c.relname LIKE 'rm\\_t%'"));
        Assert.Equal(4L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.run_log WHERE template_name = 'rm_t' AND action = 'dropped'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE template_name = 'rm_t'"));
        // foodlogstats and the tenant are untouched.
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 'rm_tenant'"));
    }
}
