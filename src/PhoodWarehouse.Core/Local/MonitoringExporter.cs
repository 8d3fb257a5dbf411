using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PhoodWarehouse.Core.Local;

/// <summary>
/// Prometheus' postgres_exporter (Debian: prometheus-postgres-exporter) run against a warehouse as the monitoring login
/// with the repository's custom queries (monitoring/postgres_exporter/queries.yaml, embedded in this assembly): what
/// Start-WhSandbox -Monitoring starts, so that a DBA sees the metrics in one command. Its own process, stopped (killed)
/// by <see cref="Dispose"/>; only the views of schema phood_monitor are read (the default metrics are off).
/// </summary>
public sealed class MonitoringExporter : IDisposable
{
    /// <summary>The program names looked for on PATH: Debian's, then upstream's.</summary>
    public static readonly string[] ProgramNames = ["prometheus-postgres-exporter", "postgres_exporter"];

    private readonly Process process;
    private readonly System.Text.StringBuilder log = new();

    private MonitoringExporter(Process process, int port, string queriesFile)
    {
        this.process = process;
        Port = port;
        QueriesFile = queriesFile;
    }

    public int Port { get; }
    /// <summary>Where the exporter's metrics are.</summary>
    public string MetricsUrl => $"http://127.0.0.1:{Port}/metrics";
    /// <summary>The custom queries file it runs (written from the embedded copy).</summary>
    public string QueriesFile { get; }
    public bool IsRunning => !process.HasExited;
    /// <summary>What it printed (its log).</summary>
    public string Log { get { lock (log) return log.ToString(); } }

    /// <summary>The exporter program on PATH; null when neither name is there.</summary>
    public static string? FindProgram() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => ProgramNames.Select(name => System.IO.Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);

    /// <summary>The custom queries as this release ships them (monitoring/postgres_exporter/queries.yaml).</summary>
    public static string Queries()
    {
        using var stream = typeof(MonitoringExporter).Assembly.GetManifestResourceStream("monitoring/postgres_exporter/queries.yaml")
            ?? throw new InvalidOperationException("queries.yaml is not embedded in PhoodWarehouse.Core");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Starts the exporter on 127.0.0.1 (a free port) against <paramref name="host"/>:<paramref name="port"/>/<paramref name="database"/>
    /// as phood_monitor, its queries written into <paramref name="folder"/>, and waits until it answers.
    /// </summary>
    public static async Task<MonitoringExporter> StartAsync(string host, int port, string database, string password, string folder,
        CancellationToken cancel)
    {
        var program = FindProgram() ?? throw NotInstalled();
        var queries = System.IO.Path.Combine(folder, "queries.yaml");
        await File.WriteAllTextAsync(queries, Queries(), cancel);
        var listen = FreePort();
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     "--extend.query-path=" + queries, "--disable-default-metrics", "--disable-settings-metrics",
                     "--no-collector.database", "--no-collector.bgwriter", $"--web.listen-address=127.0.0.1:{listen}",
                 })
            start.ArgumentList.Add(argument);
        // postgres_exporter 0.11 cannot parse a password with a space in it: the sandbox's are hex.
        start.Environment["DATA_SOURCE_NAME"] =
            $"postgresql://phood_monitor:{Uri.EscapeDataString(password)}@{host}:{port}/{database}?sslmode=disable";
        var exporter = new MonitoringExporter(Process.Start(start)!, listen, queries);
        exporter.process.StandardInput.Close();
        exporter.process.OutputDataReceived += (_, e) => { lock (exporter.log) exporter.log.AppendLine(e.Data); };
        exporter.process.ErrorDataReceived += (_, e) => { lock (exporter.log) exporter.log.AppendLine(e.Data); };
        exporter.process.BeginOutputReadLine();
        exporter.process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (exporter.process.HasExited) break;
            try
            {
                using var response = await http.GetAsync(exporter.MetricsUrl, cancel);
                if (response.IsSuccessStatusCode) return exporter;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100, cancel);
        }
        var output = exporter.Log.Trim();
        exporter.Dispose();
        throw new WarehouseException("ExporterFailed", WhErrorKind.NotInstalled,
            $"postgres_exporter ({program}) did not start: {(output.Length == 0 ? "no output" : output)}", program);
    }

    public static WarehouseException NotInstalled() =>
        new("ExporterNotInstalled", WhErrorKind.NotInstalled,
            "Prometheus' postgres_exporter is not installed (neither prometheus-postgres-exporter nor postgres_exporter is on PATH). " +
            "Install it (Debian/Ubuntu: apt-get install prometheus-postgres-exporter), then run Start-WhSandbox -Monitoring again. Nothing was started.",
            "postgres_exporter");

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // never started or already gone
        }
        process.Dispose();
    }
}
