using System.Text.RegularExpressions;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// monitoring/grafana (issue 30). Grafana itself is not packaged here, so the dashboard and the alert rules are checked
/// the way Grafana would use them: every panel's SQL runs as phood_monitor against a warehouse and returns the columns
/// the panel names (overrides, field filters, display names); every alert query has Grafana's one-row-per-series shape
/// (text labels, one numeric value, unique label sets) and fires for the tenants it is about.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed partial class GrafanaTests(PostgresServer server)
{
    private static string Grafana(string file) => Path.Combine(RepositoryPaths.Root, "monitoring", "grafana", file);

    private sealed record Result(List<(string Name, string Type)> Columns, List<object?[]> Rows);

    private static readonly HashSet<string> Numeric = ["numeric", "integer", "bigint", "double precision", "real", "smallint"];

    private static async Task<Result> RunAsync(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db);
        await using var reader = await command.ExecuteReaderAsync();
        var columns = Enumerable.Range(0, reader.FieldCount).Select(i => (reader.GetName(i), reader.GetDataTypeName(i))).ToList();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetValue(i)).ToArray());
        return new Result(columns, rows);
    }

    [GeneratedRegex(@"\$\{__field\.labels\.(?<label>\w+)\}")]
    private static partial Regex LabelReference();

    [Fact]
    public async Task Every_panel_of_the_dashboard_runs_as_the_monitoring_login_and_returns_the_columns_it_uses()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        await using var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor");
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Grafana("phood-warehouse.json")));
        var root = dashboard.RootElement;
        Assert.Equal("grafana-postgresql-datasource", root.GetProperty("__inputs")[0].GetProperty("pluginId").GetString());
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(["Warehouse", "Freshness", "Lateness per tenant", "Days needing attention", "Scheduled jobs (failures in 24 h)", "Replica lag"],
            panels.Select(p => p.GetProperty("title").GetString()));
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());

        var results = new Dictionary<string, Result>();
        foreach (var panel in panels)
        {
            var title = panel.GetProperty("title").GetString()!;
            var target = Assert.Single(panel.GetProperty("targets").EnumerateArray());
            Assert.Equal("${DS_PHOOD_WAREHOUSE}", target.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.Equal("table", target.GetProperty("format").GetString());
            var sql = target.GetProperty("rawSql").GetString()!;
            Assert.DoesNotContain("$__", sql);  // no macro: the SQL runs as written
            var result = await RunAsync(monitor, sql);
            results[title] = result;
            var names = result.Columns.Select(c => c.Name).ToHashSet();

            // Every column an override names is returned.
            foreach (var o in panel.GetProperty("fieldConfig").GetProperty("overrides").EnumerateArray())
            {
                var matcher = o.GetProperty("matcher");
                Assert.Equal("byName", matcher.GetProperty("id").GetString());
                Assert.True(names.Contains(matcher.GetProperty("options").GetString()!), $"{title}: no column {matcher.GetProperty("options")} in [{string.Join(", ", names)}]");
            }
            // A stat or bar gauge shows the numeric columns its field filter names, labelled by text columns.
            if (panel.GetProperty("options").TryGetProperty("reduceOptions", out var reduce) && reduce.TryGetProperty("fields", out var fields))
            {
                var filter = new Regex(fields.GetString()!.Trim('/'));
                var shown = result.Columns.Where(c => filter.IsMatch(c.Name)).ToList();
                Assert.True(shown.Count > 0, $"{title}: its field filter {fields} matches no column");
                Assert.All(shown, c => Assert.Contains(c.Type, Numeric));
            }
            foreach (Match label in LabelReference().Matches(panel.GetProperty("fieldConfig").GetRawText()))
                Assert.Contains((label.Groups["label"].Value, "text"), result.Columns);
        }

        // The freshness table shows each tenant's status, Late and the SLA's lateness included.
        var freshness = results["Freshness"];
        var status = freshness.Columns.FindIndex(c => c.Name == "status");
        var tenant = freshness.Columns.FindIndex(c => c.Name == "tenant");
        Assert.Equal(new Dictionary<string, string> { ["m_changed"] = "Changed", ["m_fail"] = "Failing", ["m_gap"] = "Gaps", ["m_late"] = "Late" },
            freshness.Rows.ToDictionary(r => (string)r[tenant]!, r => (string)r[status]!));
        var lateness = results["Lateness per tenant"];
        Assert.Equal(["m_late/foodlogstats", "m_changed/foodlogstats", "m_fail/foodlogstats", "m_gap/foodlogstats"], lateness.Rows.Select(r => (string)r[0]!));
        Assert.Equal(3600m, lateness.Rows[0][1]);
        Assert.Equal(["m_changed/foodlogstats changed", "m_fail/foodlogstats failed", "m_gap/foodlogstats missing", "m_late/foodlogstats missing"],
            results["Days needing attention"].Rows.Select(r => (string)r[0]!).Order());
        Assert.Equal(4, Assert.Single(results["Warehouse"].Rows)[1]);
    }

    [GeneratedRegex(@"^\s*rawSql:\s*(?<sql>"".*"")\s*$", RegexOptions.Multiline)]
    private static partial Regex RawSql();

    [GeneratedRegex(@"^\s*-\s*uid:\s*(?<uid>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex RuleUid();

    [GeneratedRegex(@"params:\s*\[(?<threshold>[0-9.]+)\]")]
    private static partial Regex Threshold();

    [Fact]
    public async Task Each_alert_query_has_one_row_per_series_and_fires_for_the_tenants_it_is_about()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        await using var monitor = await SqlKit.OpenAsync(server, wh.Database, "phood_monitor");
        var text = await File.ReadAllTextAsync(Grafana("alert-rules.yaml"));
        var uids = RuleUid().Matches(text).Select(m => m.Groups["uid"].Value).ToList();
        var queries = RawSql().Matches(text).Select(m => JsonSerializer.Deserialize<string>(m.Groups["sql"].Value)!).ToList();
        var thresholds = Threshold().Matches(text).Select(m => decimal.Parse(m.Groups["threshold"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(["phood-tenant-late", "phood-changed-day", "phood-job-failing", "phood-replica-lag", "phood-source-unreachable"], uids);
        Assert.Equal(uids.Count, queries.Count);
        Assert.Equal(uids.Count, thresholds.Count);

        var firing = new Dictionary<string, List<string>>();
        for (var i = 0; i < uids.Count; i++)
        {
            var result = await RunAsync(monitor, queries[i]);
            // Grafana's shape: one numeric column (the value), the others text (the labels), one row per label set.
            var value = Assert.Single(result.Columns, c => Numeric.Contains(c.Type));
            Assert.All(result.Columns.Where(c => c != value), c => Assert.Equal("text", c.Type));
            var valueIndex = result.Columns.IndexOf(value);
            var labels = result.Rows.Select(r => string.Join("/", r.Where((_, k) => k != valueIndex))).ToList();
            Assert.Equal(labels.Count, labels.Distinct().Count());
            Assert.All(result.Rows, r => Assert.NotNull(r[valueIndex]));
            firing[uids[i]] = result.Rows.Where(r => Convert.ToDecimal(r[valueIndex]) > thresholds[i])
                .Select(r => string.Join("/", r.Where((_, k) => k != valueIndex))).ToList();
        }
        Assert.Equal(["m_late/foodlogstats"], firing["phood-tenant-late"]);
        Assert.Equal(["m_changed/foodlogstats"], firing["phood-changed-day"]);
        Assert.Equal(["m_fail/foodlogstats"], firing["phood-source-unreachable"]);
        Assert.Empty(firing["phood-job-failing"]);
        Assert.Empty(firing["phood-replica-lag"]);
    }
}
