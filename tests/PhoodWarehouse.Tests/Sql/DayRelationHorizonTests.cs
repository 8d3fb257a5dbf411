using PhoodWarehouse.Core.Connections;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 31: a compacted closed day older than day_relation_days keeps no relation of its own (at 100 tenants x 5 years a
/// view per day was 1.1 GB of catalog, docs/performance.md). It stays a day: the catalog lists it (kind 't'), the tenant
/// view and _wh.day_rows give its rows, a re-run skips it, a check compares it, force repairs it, retention drops it, and
/// a warehouse whose older days still have views loses them at the next window's end. With a time zone and without.
/// The class's warehouse keeps 7 days' relations (the minimum) and compacts past 3.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DayRelationHorizonTests(PostgresServer server)
{
    private const int Days = 16;
    private const int Rows = 20;
    private const int Horizon = 7;
    private static readonly Once<SharedWarehouse> Shared = new();

    private async Task<SharedWarehouse> EnvAsync() => await Shared.Get(async () =>
    {
        var env = await SharedWarehouse.CreateAsync(server, days: Days, rowsPerDay: Rows);
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '3' WHERE key = 'compact_after_days'");
        await wh.ExecAsync($"SELECT _wh.set_setting('day_relation_days', '{Horizon}')");
        return env;
    });

    private DateOnly Day(int offset) => SqlKit.Today(server).AddDays(offset);

    private static Task<string> WindowAsync(NpgsqlConnection wh, SharedWarehouse env, string schema, DateOnly from, DateOnly to) =>
        wh.ScalarAsync<string>("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)::text", env.Connection, schema, from, to);

    private static async Task<Dictionary<DateOnly, string>> CatalogAsync(NpgsqlConnection wh, string schema) =>
        (await wh.RowsAsync("SELECT day, kind::text FROM _wh.daily_views WHERE schema_name = $1 AND template_name = 'foodlogstats'", schema))
        .ToDictionary(r => (DateOnly)r[0]!, r => (string)r[1]!);

    private static Task<long> RelationsAsync(NpgsqlConnection wh, string schema) => wh.ScalarAsync<long>(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname ~ '^foodlogstats_\\d{4}_\\d{2}_\\d{2}$'", schema);

    [Theory]
    [InlineData(null)]
    [InlineData("Pacific/Kiritimati")]
    public async Task Days_older_than_the_horizon_have_no_relation_and_stay_days_in_every_respect(string? zone)
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("hz");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.ensure_tenant($1, $2, NULL)", env.Connection, schema);
        if (zone is not null) await wh.ExecAsync("SELECT _wh.set_tenant_time_zone($1, $2)", schema, zone);
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.tenant_today($1)", schema);
        var first = Day(-(Days - 1));
        var summary = JsonDocument.Parse(await WindowAsync(wh, env, schema, first, Day(0))).RootElement;
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());

        // Every day is in the catalog; those older than the horizon (on the tenant's clock) are 't', without a relation.
        var horizon = today.AddDays(-Horizon);
        var catalog = await CatalogAsync(wh, schema);
        Assert.Equal(Days, catalog.Count);
        Assert.All(catalog.Where(d => d.Key < horizon), d => Assert.Equal("t", d.Value));
        Assert.All(catalog.Where(d => d.Key >= horizon), d => Assert.NotEqual("t", d.Value));
        var old = catalog.Keys.Where(d => d < horizon).ToList();
        Assert.NotEmpty(old);
        Assert.Equal(Days - old.Count, await RelationsAsync(wh, schema));
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.does_mv_exist($1, $2)", schema, SqlKit.ViewName("foodlogstats", old[0])));

        // Their rows: the tenant view and _wh.day_rows give exactly the source's.
        await using var source = await SqlKit.OpenAsync(server, env.Source.Database);
        Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, old[0], old[0]),
            await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"_wh.day_rows(NULL::{schema}.foodlogstats, '{old[0]:yyyy-MM-dd}')"));
        Assert.Equal(await RowFingerprint.OfSourceAsync(wh, source, "foodlogstats", schema, first, Day(0)),
            await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.foodlogstats"));

        // A re-run skips them (no second copy of their rows); the module lists them with their rows.
        var again = JsonDocument.Parse(await WindowAsync(wh, env, schema, first, Day(0))).RootElement;
        Assert.Equal(0, again.GetProperty("created").GetInt32());
        Assert.Equal((long)Days * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        var listed = await new DailyViewCatalog(connection, NullLogger.Instance).ListAsync(
            new DailyViewQuery { Tenants = [new NamePattern(schema)] }, default);
        Assert.Equal(Days, listed.Count);
        Assert.All(listed.Where(v => DateOnly.FromDateTime(v.Date) < horizon), v => { Assert.Equal(Rows, v.Rows); Assert.True(v.Compacted); });

        // Checked like any day; a changed source is found, and force repairs it without giving it a relation again.
        var checker = new DayChecker(connection, NullLogger.Instance);
        var checks = (await checker.CheckAsync([new CheckWindow(schema, "foodlogstats", first, Day(-2))], 2, default)).Single();
        Assert.Null(checks.Error);
        Assert.All(checks.Days, d => Assert.Equal(MvCheckStatus.Match, d.Status));
        await source.ExecAsync($"UPDATE phood_foodlogsum SET weight = weight + 1 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{old[^1]:yyyy-MM-dd}')");
        try
        {
            checks = (await checker.CheckAsync([new CheckWindow(schema, "foodlogstats", old[^1], old[^1])], 1, default)).Single();
            Assert.Equal(MvCheckStatus.Changed, checks.Days.Single().Status);
            var repaired = JsonDocument.Parse(await wh.ScalarAsync<string>(
                "SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3, force => true)::text", env.Connection, schema, old[^1])).RootElement;
            Assert.Equal("recreated", repaired.GetProperty("action").GetString());
            Assert.Equal("t", (await CatalogAsync(wh, schema))[old[^1]]);
            checks = (await checker.CheckAsync([new CheckWindow(schema, "foodlogstats", old[^1], old[^1])], 1, default)).Single();
            Assert.Equal(MvCheckStatus.Match, checks.Days.Single().Status);
        }
        finally
        {
            await source.ExecAsync($"UPDATE phood_foodlogsum SET weight = weight - 1 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{old[^1]:yyyy-MM-dd}')");
        }

        // Retention drops them: rows, day state and catalog entry, each logged.
        var dropped = JsonDocument.Parse(await wh.ScalarAsync<string>(
            "SELECT _wh.drop_mv_range_by_template('foodlogstats', $1, NULL, $2)::text", schema, old[1])).RootElement;
        Assert.Equal(2, dropped.GetProperty("count").GetInt32());
        catalog = await CatalogAsync(wh, schema);
        Assert.Equal(Days - 2, catalog.Count);
        Assert.DoesNotContain(old[0], catalog.Keys);
        Assert.Equal((long)(Days - 2) * Rows, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE schema_name = $1 AND day <= $2", schema, old[1]));
    }

    [Fact]
    public async Task Views_of_older_days_made_before_the_horizon_existed_are_retired_at_the_next_windows_end()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("hz_old");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        // Loaded as a warehouse that kept every day's view (the design before 2.4.0).
        await wh.ExecAsync("BEGIN; SELECT _wh.set_setting('day_relation_days', '100000'); " +
            $"SELECT _wh.update_mv_window_by_template('foodlogstats', '{env.Connection}', '{schema}', '{Day(-(Days - 1)):yyyy-MM-dd}', '{Day(0):yyyy-MM-dd}'); " +
            $"SELECT _wh.set_setting('day_relation_days', '{Horizon}'); COMMIT;");
        Assert.Equal(Days, await RelationsAsync(wh, schema));
        var before = await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.foodlogstats");

        // The next window (here: today's refresh) ends by retiring the older days' views; the days, rows and views BI
        // reads stay as they were.
        await WindowAsync(wh, env, schema, Day(0), Day(0));
        var catalog = await CatalogAsync(wh, schema);
        Assert.Equal(Days, catalog.Count);
        var old = catalog.Count(d => d.Value == "t");
        Assert.True(old >= Days - Horizon - 2, $"{old} days retired");
        Assert.Equal(Days - old, await RelationsAsync(wh, schema));
        Assert.Equal(before, await RowFingerprint.OfWarehouseAsync(wh, "foodlogstats", $"{schema}.foodlogstats"));
        await using var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        Assert.Equal((long)Days * Rows, await ro.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", schema));
    }

    [Fact]
    public async Task A_day_without_a_relation_loaded_again_within_a_longer_horizon_gets_its_view_back_readable_by_phood_ro()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("hz_back");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await WindowAsync(wh, env, schema, Day(-(Days - 1)), Day(0));
        var old = (await CatalogAsync(wh, schema)).Where(d => d.Value == "t").Select(d => d.Key).Order().ToList();
        Assert.NotEmpty(old);

        // The horizon made longer for this transaction only (other sessions never see it), and the oldest day forced.
        await wh.ExecAsync("BEGIN; SELECT _wh.set_setting('day_relation_days', '100000'); " +
            $"SELECT _wh.update_mv_by_template('foodlogstats', '{env.Connection}', '{schema}', '{old[0]:yyyy-MM-dd}', force => true); " +
            $"SELECT _wh.set_setting('day_relation_days', '{Horizon}'); COMMIT;");
        Assert.Equal("v", (await CatalogAsync(wh, schema))[old[0]]);
        Assert.False(await wh.ScalarAsync<bool>(
            "SELECT table_only FROM _wh.day_state WHERE schema_name = $1 AND template_name = 'foodlogstats' AND day = $2", schema, old[0]));
        await using var ro = await SqlKit.OpenAsync(server, env.Database, "phood_ro");
        Assert.Equal((long)Rows, await ro.ScalarAsync<long>($"SELECT count(*) FROM {schema}.{SqlKit.ViewName("foodlogstats", old[0])}"));
        // Every other older day is as it was.
        var catalog = await CatalogAsync(wh, schema);
        Assert.All(old.Skip(1), d => Assert.Equal("t", catalog[d]));
    }

    [Fact]
    public async Task Remove_WhTemplate_with_force_removes_days_without_a_relation_too()
    {
        var env = await EnvAsync();
        var schema = PostgresServer.UniqueName("hz_tpl");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync(
            """
            INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
            SELECT 'foodlog_hz', description, query_template, column_definitions, indexes FROM _wh.mv_templates WHERE template_name = 'foodlogstats'
            """);
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlog_hz', $1, $2, $3, $4)", env.Connection, schema, Day(-(Days - 1)), Day(0));
        Assert.True(await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = $1 AND kind = 't'", schema) > 0);

        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(env.Database, "whadmin") }, NullLogger.Instance, default);
        await new PhoodWarehouse.Core.Templates.TemplateStore(connection, NullLogger.Instance).RemoveAsync("foodlog_hz", true, default);
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE template_name = 'foodlog_hz'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE template_name = 'foodlog_hz'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.mv_templates WHERE template_name = 'foodlog_hz'"));
    }
}
