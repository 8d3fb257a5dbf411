namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 29, item 9: the guide's SQL on compacted days. Closed days past compact_after_days are plain views over
/// &lt;template&gt;_closed, which pg_matviews does not list: the guide's rebuild (drop every pg_matviews entry, then
/// _wh.update_mv_window) answered "created 2, skipped 117" and looked done. It now warns, naming the compacted days it
/// skipped and the call that rebuilds them; the catalog query and the drop the docs give work on both kinds of day; and
/// a psql user sees no internal notice.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class GuideOnCompactedDaysTests(PostgresServer server)
{
    [Fact]
    public async Task The_guides_rebuild_names_the_compacted_days_it_skips_and_the_catalog_way_covers_both_kinds()
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        var notices = new List<string>();
        wh.Notice += (_, e) => notices.Add($"{e.Notice.Severity}: {e.Notice.MessageText}");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '2' WHERE key = 'compact_after_days'");
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)");
        var source = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 5, firstDay: today.AddDays(-7));
        await wh.AddConnectionAsync("guide_conn", source);
        await wh.ExecAsync("SELECT _wh.update_mv_window('guide_conn', 'guide_t', $1, $2)", today.AddDays(-7), today);
        var compacted = await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'guide_t' AND kind = 'v'");
        Assert.True(compacted >= 3, $"{compacted} compacted days: compaction did not run");
        Assert.Empty(notices);

        // The guide's step 2: drop every materialized view of the tenant (pg_matviews: the recent days only).
        await wh.ExecAsync(
            """
            DO $$
            DECLARE mv_name TEXT;
            BEGIN
                FOR mv_name IN SELECT matviewname FROM pg_matviews WHERE schemaname = 'guide_t' LOOP
                    EXECUTE 'DROP MATERIALIZED VIEW guide_t.' || mv_name;
                END LOOP;
            END $$;
            """);
        // Step 3: the rebuild. The compacted days are skipped as existing: said by name, with the call that rebuilds them.
        notices.Clear();
        var summary = System.Text.Json.JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_window('guide_conn', 'guide_t', $1, $2)::text", today.AddDays(-7), today)).RootElement;
        Assert.Equal(compacted, summary.GetProperty("skipped_compacted").GetArrayLength());
        var warning = Assert.Single(notices);
        Assert.StartsWith($"WARNING: {compacted} day(s) of guide_t.foodlogstats in", warning);
        Assert.Contains(today.AddDays(-7).ToString("yyyy-MM-dd"), warning);

        // The docs' way: through the catalog, both kinds. The guide's DROP MATERIALIZED VIEW refuses a compacted day;
        // _wh.drop_mv_range_by_template drops a day of either kind, and force re-creates every day of the range.
        var oldest = SqlKit.ViewName("foodlogstats", today.AddDays(-7));
        var refused = await wh.FailsAsync($"DROP MATERIALIZED VIEW guide_t.{oldest}");
        Assert.Contains("is not a materialized view", refused.MessageText);
        Assert.Equal(8L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'guide_t' AND template_name = 'foodlogstats'"));
        await wh.ExecAsync("SELECT _wh.drop_mv_range_by_template('foodlogstats', 'guide_t', $1, $1)", today.AddDays(-7));
        Assert.Equal(7L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'guide_t' AND template_name = 'foodlogstats'"));
        notices.Clear();
        var forced = System.Text.Json.JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_window_by_template('foodlogstats', 'guide_conn', 'guide_t', $1, $2, force => true)::text", today.AddDays(-7), today)).RootElement;
        Assert.Equal(1, forced.GetProperty("created").GetInt32());
        Assert.Equal(0, forced.GetProperty("skipped").GetInt32());
        // No internal notice reaches a psql user (the view probe's "schema pg_temp does not exist, skipping").
        await using var fresh = await SqlKit.OpenAsync(server, database, "whadmin");
        var freshNotices = new List<string>();
        fresh.Notice += (_, e) => freshNotices.Add($"{e.Notice.Severity}: {e.Notice.MessageText}");
        await fresh.ExecAsync("SELECT _wh.update_tenant_union_view_by_template('foodlogstats', 'guide_conn', 'guide_t')");
        await fresh.ExecAsync("SELECT _wh.update_public_view_by_template('foodlogstats')");
        Assert.Empty(notices);
        Assert.Empty(freshNotices);
    }
}
