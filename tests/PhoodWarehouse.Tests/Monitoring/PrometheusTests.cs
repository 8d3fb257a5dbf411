using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// monitoring/ as Prometheus runs it (issue 30): promtool accepts the alert rules, their unit tests pass and the example
/// scrape configuration is valid; the real postgres_exporter (Debian's prometheus-postgres-exporter, which build.ps1
/// installs for the tests), run with queries.yaml as phood_monitor, exposes the right values for a tenant with a gap,
/// a late day, a changed day and a failing source.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed partial class PrometheusTests(PostgresServer server)
{
    private static string Monitoring(params string[] parts) => Path.Combine([RepositoryPaths.Root, "monitoring", .. parts]);

    private static string Promtool(params string[] arguments)
    {
        var result = TestProgram.Run("promtool", arguments, Monitoring("prometheus"));
        Assert.True(result.ExitCode == 0, $"promtool {string.Join(' ', arguments)} exited {result.ExitCode}:\n{result.Output}\n{result.Errors}");
        return result.Output + result.Errors;
    }

    [Fact]
    public void Promtool_accepts_the_rules_their_unit_tests_pass_and_the_example_configuration_is_valid()
    {
        Assert.Contains("SUCCESS: 6 rules found", Promtool("check", "rules", "alerts.yml"));
        Assert.Contains("SUCCESS", Promtool("test", "rules", "alerts.test.yml"));
        Assert.Contains("is valid prometheus config file syntax", Promtool("check", "config", "prometheus.yml"));
        // Every alert of the issue has a unit test that expects it to fire.
        var tests = File.ReadAllText(Monitoring("prometheus", "alerts.test.yml"));
        foreach (var alert in new[] { "PhoodTenantLate", "PhoodChangedDayUnrepaired", "PhoodJobFailing", "PhoodReplicaLagging", "PhoodSourceUnreachable", "PhoodMonitoringDown" })
            Assert.Matches($@"alertname: {alert}\s+exp_alerts:\s+- exp_labels", tests);
    }

    [Fact]
    public async Task The_exporter_as_the_monitoring_login_exposes_a_gap_a_late_day_a_changed_day_and_an_unreachable_source()
    {
        var wh = await MonitoredWarehouse.GetAsync(server);
        var port = FreePort();
        var dsn = $"postgresql://phood_monitor:{Uri.EscapeDataString(PostgresServer.PhoodMonitorPassword)}@{server.Host}:{server.Port}/{wh.Database}?sslmode=disable";
        using var exporter = Exporter.Start(dsn, port);
        var metrics = await exporter.ScrapeAsync();

        double Value(string name, params (string Key, string Value)[] labels) =>
            Assert.Single(metrics, m => m.Name == name && labels.All(l => m.Labels.GetValueOrDefault(l.Key) == l.Value)).Value;
        (string, string) Tenant(string tenant) => ("tenant", tenant);
        var template = ("template", "foodlogstats");

        Assert.Equal(0, Value("pg_exporter_last_scrape_error"));
        Assert.Equal(3600, Value("phood_freshness_seconds_late", Tenant("m_late"), template));
        Assert.Equal(0, Value("phood_freshness_seconds_late", Tenant("m_gap"), template));
        Assert.Equal(7200, Value("phood_freshness_sla_seconds", Tenant("m_late"), template));
        Assert.Equal(1, Value("phood_status_info", Tenant("m_late"), template, ("status", "Late")));
        Assert.Equal(1, Value("phood_status_info", Tenant("m_gap"), template, ("status", "Gaps")));
        Assert.Equal(1, Value("phood_status_info", Tenant("m_changed"), template, ("status", "Changed")));
        Assert.Equal(1, Value("phood_days", Tenant("m_gap"), template, ("status", "missing")));
        Assert.Equal(1, Value("phood_days", Tenant("m_changed"), template, ("status", "changed")));
        Assert.Equal(0, Value("phood_days", Tenant("m_gap"), template, ("status", "changed")));
        Assert.Equal(5, Value("phood_days", Tenant("m_changed"), template, ("status", "loaded")));
        Assert.Equal(1, Value("phood_freshness_changed_days", Tenant("m_changed"), template));
        Assert.Equal(172800, Value("phood_freshness_changed_unrepaired_seconds", Tenant("m_changed"), template));
        Assert.Equal(1, Value("phood_freshness_source_unreachable", Tenant("m_fail"), template));
        Assert.Equal(0, Value("phood_freshness_source_unreachable", Tenant("m_gap"), template));
        Assert.True(Value("phood_last_failure_timestamp_seconds", Tenant("m_fail"), template, ("sqlstate", "08001")) > 1.7e9);
        Assert.True(Value("phood_freshness_last_capture_timestamp_seconds", Tenant("m_gap"), template) > 1.7e9);
        Assert.Equal(1, Value("phood_warehouse_info", ("schema_version", WarehouseInstaller.TargetVersion())));
        Assert.Equal(4, Value("phood_warehouse_tenants"));
        Assert.Equal(18, Value("phood_warehouse_daily_views"));
        // No pg_cron job and no standby here: no series, and no error.
        Assert.DoesNotContain(metrics, m => m.Name.StartsWith("phood_job_", StringComparison.Ordinal) || m.Name.StartsWith("phood_replica_", StringComparison.Ordinal));
        // The alert rules' series exist with these names and labels.
        var rules = File.ReadAllText(Monitoring("prometheus", "alerts.yml"));
        var expressions = string.Join("\n", rules.Split('\n').Where(l => l.TrimStart().StartsWith("expr:", StringComparison.Ordinal)));
        foreach (var used in RuleMetric().Matches(expressions).Select(m => m.Value).Distinct().Where(n => n is not "phood_job_failures_24h" and not "phood_replica_lag_seconds"))
            Assert.Contains(metrics, m => m.Name == used);
    }

    [GeneratedRegex(@"\bphood_[a-z0-9_]+")]
    private static partial Regex RuleMetric();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal sealed record Metric(string Name, Dictionary<string, string> Labels, double Value);

    /// <summary>A running prometheus-postgres-exporter with queries.yaml, stopped (by its own process) on dispose.</summary>
    internal sealed partial class Exporter : IDisposable
    {
        private readonly Process process;
        private readonly int port;
        private readonly System.Text.StringBuilder log = new();

        private Exporter(Process process, int port)
        {
            this.process = process;
            this.port = port;
        }

        public static Exporter Start(string dataSourceName, int port)
        {
            var start = new ProcessStartInfo("prometheus-postgres-exporter")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var argument in new[]
                     {
                         "--extend.query-path=" + Monitoring("postgres_exporter", "queries.yaml"), "--disable-default-metrics",
                         "--disable-settings-metrics", "--no-collector.database", "--no-collector.bgwriter",
                         $"--web.listen-address=127.0.0.1:{port}",
                     })
                start.ArgumentList.Add(argument);
            start.Environment["DATA_SOURCE_NAME"] = dataSourceName;
            var exporter = new Exporter(Process.Start(start)!, port);
            exporter.process.OutputDataReceived += (_, e) => { lock (exporter.log) exporter.log.AppendLine(e.Data); };
            exporter.process.ErrorDataReceived += (_, e) => { lock (exporter.log) exporter.log.AppendLine(e.Data); };
            exporter.process.BeginOutputReadLine();
            exporter.process.BeginErrorReadLine();
            return exporter;
        }

        public string Log { get { lock (log) return log.ToString(); } }

        public async Task<List<Metric>> ScrapeAsync()
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                    return Parse(text);
                }
                catch (HttpRequestException) when (attempt < 100 && !process.HasExited)
                {
                    await Task.Delay(100);
                }
                catch (HttpRequestException error)
                {
                    throw new InvalidOperationException($"the exporter did not answer: {error.Message}\n{Log}");
                }
            }
        }

        [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)$")]
        private static partial Regex Line();

        [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(\\.|[^""\\])*)""")]
        private static partial Regex Label();

        /// <summary>The Prometheus text format: one sample a line, comments skipped.</summary>
        public static List<Metric> Parse(string text) =>
            text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => Line().Match(l)).Where(m => m.Success)
                .Select(m => new Metric(m.Groups["name"].Value,
                    Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups["key"].Value,
                        l => Regex.Unescape(l.Groups["value"].Value)),
                    m.Groups["value"].Value switch
                    {
                        "+Inf" => double.PositiveInfinity,
                        "-Inf" => double.NegativeInfinity,
                        var v => double.Parse(v, CultureInfo.InvariantCulture),
                    }))
                .ToList();

        public void Dispose()
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit(5000);
            process.Dispose();
        }
    }
}
