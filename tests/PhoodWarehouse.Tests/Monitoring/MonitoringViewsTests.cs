using PhoodWarehouse.Tests.Sql;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// The monitoring login (issue 30): phood_monitor reads the five views of schema phood_monitor and nothing else, and
/// the views say, one row per series, what Get-WhMvFreshness says: a gap, a late yesterday, a changed day, a failure.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class MonitoringViewsTests(PostgresServer server)
{
    public static readonly string[] Views = ["days", "freshness", "jobs", "replicas", "warehouse"];

    private static Dictionary<string, object?> Row(List<object?[]> rows, int index, IReadOnlyList<string> columns) =>
        columns.Select((c, i) => (c, rows[index][i])).ToDictionary(p => p.c, p => p.Item2);

    [Fact]
    public async Task The_monitoring_login_reads_the_five_views_and_nothing_else()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        var snapshot = server.ConnectionString(wh.Database);
        var before = await CatalogSnapshot.TakeAsync(snapshot);
        await using var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor");

        // What it may read, asked of pg_catalog for every relation, routine and schema of the database.
        Assert.Equal(Views.Select(v => "phood_monitor." + v).ToList(), await monitor.ColumnAsync(
            """
            SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND (has_table_privilege(c.oid, 'SELECT') OR has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                   OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
            ORDER BY 1
            """));
        Assert.Equal(["_wh.monitor_days()", "_wh.monitor_freshness()", "_wh.monitor_jobs()", "_wh.monitor_replicas()", "_wh.monitor_warehouse()"],
            await monitor.ColumnAsync(
                """
                SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_function_privilege(p.oid, 'EXECUTE') ORDER BY 1
                """));
        Assert.Equal(["phood_monitor", "public"], await monitor.ColumnAsync(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%' AND has_schema_privilege(oid, 'USAGE') ORDER BY 1"));
        Assert.Equal("phood_monitor", await monitor.ScalarAsync<string>("SHOW search_path"));
        Assert.False(await monitor.ScalarAsync<bool>("SELECT has_database_privilege(current_database(), 'TEMP') OR has_database_privilege(current_database(), 'CREATE')"));
        // No secret: the user mappings' options (the source passwords) are not its to see.
        Assert.Equal(0L, await monitor.ScalarAsync<long>("SELECT count(*) FROM pg_user_mappings WHERE umoptions IS NOT NULL"));

        var day = SqlKit.ViewName("foodlogstats", wh.Today.AddDays(-1));
        string[] forbidden =
        [
            "SELECT * FROM _wh.tenant_connections", "SELECT * FROM _wh.tenants", "SELECT * FROM _wh.run_log",
            "SELECT * FROM _wh.mv_templates", "SELECT * FROM _wh.day_state", "SELECT * FROM _wh.warehouse_info",
            "SELECT * FROM _wh.monitor_freshness()", "SELECT * FROM _wh.freshness()", "SELECT _wh.set_tenant_freshness_sla('m_gap', '1 hour')",
            "SELECT _wh.get_tenant_connection_string('" + wh.Connection + "')",
            "SELECT count(*) FROM public.foodlogstats", "SELECT count(*) FROM m_gap.foodlogstats", $"SELECT count(*) FROM m_gap.{day}",
            "SELECT * FROM public.dblink('wh_" + wh.Connection + "', 'SELECT 1') AS t(x int)",
            "CREATE VIEW phood_monitor.intruder AS SELECT 1 AS x", "CREATE TABLE public.intruder (x int)", "CREATE TEMP TABLE intruder (x int)",
            "DROP VIEW phood_monitor.freshness", "CREATE OR REPLACE VIEW phood_monitor.days AS SELECT 1 AS x",
        ];
        foreach (var sql in forbidden) await monitor.FailsAsync(sql, [SqlKit.InsufficientPrivilege, "42P01"]);

        foreach (var view in Views) await monitor.ExecAsync($"SELECT * FROM {view}");
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(snapshot));
    }

    [Fact]
    public async Task The_views_report_a_gap_a_late_yesterday_a_changed_day_and_a_failure_with_its_sqlstate_one_row_per_series()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        await using var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor");
        string[] columns = ["tenant", "template", "status", "latest_day", "days_behind", "freshness_sla_seconds", "seconds_late",
            "missing_days", "partial_days", "changed_days", "failed_days", "daily_views", "last_failure_sqlstate", "changed_unrepaired_seconds"];
        var rows = await monitor.RowsAsync($"SELECT {string.Join(", ", columns)} FROM freshness ORDER BY tenant");
        var byTenant = Enumerable.Range(0, rows.Count).Select(i => Row(rows, i, columns)).ToDictionary(r => (string)r["tenant"]!);
        Assert.Equal(["m_changed", "m_fail", "m_gap", "m_late"], byTenant.Keys.Order().ToList());
        Assert.All(byTenant.Values, r => Assert.Equal("foodlogstats", r["template"]));
        Assert.All(byTenant.Values, r => Assert.Equal(7200m, r["freshness_sla_seconds"]));

        var gap = byTenant["m_gap"];
        Assert.Equal(("Gaps", 1, 0m, 4), ((string)gap["status"]!, (int)gap["missing_days"]!, (decimal)gap["seconds_late"]!, (int)gap["daily_views"]!));
        var late = byTenant["m_late"];
        Assert.Equal(("Late", 3600m, 1), ((string)late["status"]!, (decimal)late["seconds_late"]!, (int)late["days_behind"]!));
        Assert.Equal(wh.Today.AddDays(-1), (DateOnly)late["latest_day"]!);
        var changed = byTenant["m_changed"];
        Assert.Equal(("Changed", 1, 0m), ((string)changed["status"]!, (int)changed["changed_days"]!, (decimal)changed["seconds_late"]!));
        Assert.Equal((172800m, 0m), ((decimal)changed["changed_unrepaired_seconds"]!, (decimal)gap["changed_unrepaired_seconds"]!));
        var failing = byTenant["m_fail"];
        Assert.Equal(("Failing", 1, "08001"), ((string)failing["status"]!, (int)failing["failed_days"]!, (string?)failing["last_failure_sqlstate"]));
        Assert.Null(gap["last_failure_sqlstate"]);

        // phood_days{tenant,template,status}: one row per kind of day, a number each.
        var days = (await monitor.RowsAsync("SELECT tenant, status, days FROM days WHERE template = 'foodlogstats'"))
            .ToDictionary(r => ((string)r[0]!, (string)r[1]!), r => (int)r[2]!);
        Assert.Equal(4 * 5, days.Count);
        Assert.Equal((1, 1, 1, 0), (days[("m_gap", "missing")], days[("m_changed", "changed")], days[("m_fail", "failed")], days[("m_gap", "failed")]));
        Assert.Equal((4, 4, 5, 5), (days[("m_gap", "loaded")], days[("m_late", "loaded")], days[("m_changed", "loaded")], days[("m_fail", "loaded")]));

        var warehouse = await monitor.RowsAsync("SELECT schema_version, tenants, templates, daily_views, run_log_rows, run_log_bytes, freshness_sla_seconds FROM warehouse");
        var one = Assert.Single(warehouse);
        Assert.Equal(WarehouseInstaller.TargetVersion(), one[0]);
        Assert.Equal((4, 1, 18), ((int)one[1]!, (int)one[2]!, (int)one[3]!));
        Assert.True((long)one[4]! > 0 && (long)one[5]! > 0);
        Assert.Equal(7200m, one[6]);

        // No pg_cron in this database and no standby: the views answer with no row, not an error.
        Assert.Empty(await monitor.RowsAsync("SELECT job, last_run, last_status, last_duration_seconds, runs_24h, failures_24h FROM jobs"));
        Assert.Empty(await monitor.RowsAsync("SELECT replica, state, replay_lag_seconds, replay_lag_bytes FROM replicas"));
    }

    [Fact]
    public async Task A_tenant_SLA_overrides_the_warehouse_setting_and_moves_the_deadline()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        var schema = "m_sla_" + Environment.ProcessId;
        await using (var admin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
        {
            await admin.ExecAsync($"SET phood.now = '{wh.Today.AddDays(-1):yyyy-MM-dd} 22:00'");
            await admin.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", wh.Connection, schema, wh.Today.AddDays(-2), wh.Today.AddDays(-1));
            await admin.ExecAsync("RESET phood.now");
            // 4 hours: at 03:00 the day is not late yet.
            await admin.ExecAsync("SELECT _wh.set_tenant_freshness_sla($1, '04:00:00')", schema);
            await using (var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor"))
                Assert.Equal(("Fresh", 0m, 14400m), await StatusAsync(monitor, schema));
            // 30 minutes: 2.5 hours late.
            await admin.ExecAsync("SELECT _wh.set_tenant_freshness_sla($1, '00:30:00')", schema);
            await using (var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor"))
                Assert.Equal(("Late", 9000m, 1800m), await StatusAsync(monitor, schema));
            // Cleared: the warehouse's setting, which _wh.set_setting checks (a duration).
            await admin.ExecAsync("SELECT _wh.set_tenant_freshness_sla($1, NULL)", schema);
            var bad = await admin.FailsAsync("SELECT _wh.set_setting('freshness_sla', 'soon')", ["22023"]);
            Assert.Contains("not a duration", bad.MessageText);
            await admin.FailsAsync("SELECT _wh.set_tenant_freshness_sla($1, '-01:00')", ["22023"], schema);
            await admin.FailsAsync("SELECT _wh.set_tenant_freshness_sla('no_such_tenant', '01:00')", ["42704"]);
            await using (var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor"))
                Assert.Equal(("Late", 3600m, 7200m), await StatusAsync(monitor, schema));
            await admin.ExecAsync("SELECT _wh.remove_tenant($1)", schema);
        }

        static async Task<(string, decimal, decimal)> StatusAsync(NpgsqlConnection monitor, string tenant)
        {
            var row = Assert.Single(await monitor.RowsAsync("SELECT status, seconds_late, freshness_sla_seconds FROM freshness WHERE tenant = $1", tenant));
            return ((string)row[0]!, (decimal)row[1]!, (decimal)row[2]!);
        }
    }
}
