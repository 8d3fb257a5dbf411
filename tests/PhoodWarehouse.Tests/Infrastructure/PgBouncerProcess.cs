using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A PgBouncer (Debian's package, installed by build.ps1 for the tests) in front of a test cluster, with PgBouncer's
/// default settings except where it listens, how it authenticates (SCRAM, the logins' passwords in its auth_file),
/// <see cref="PoolMode"/>, and, when asked, one server connection per pool (so that a test knows the next client gets the
/// same server connection). Runs in the foreground as the postgres OS user when the process is root (PgBouncer refuses
/// root); killed and its folder deleted on dispose.
/// </summary>
public sealed class PgBouncerProcess : IDisposable
{
    public const string Program = "/usr/sbin/pgbouncer";

    private readonly Process process;
    private readonly string folder;

    private PgBouncerProcess(Process process, string folder, int port)
    {
        this.process = process;
        this.folder = folder;
        Port = port;
    }

    public int Port { get; }
    public string LogFile => Path.Combine(folder, "pgbouncer.log");

    public static PgBouncerProcess Start(PostgresServer server, string poolMode, IReadOnlyDictionary<string, string> logins, bool onePerPool = false)
    {
        if (!File.Exists(Program))
            throw new InvalidOperationException($"{Program} is missing: ./build.ps1 Test installs Debian's pgbouncer package for these tests.");
        var folder = Directory.CreateTempSubdirectory("phoodwh-pgbouncer-").FullName;
        var port = FreePort();
        File.WriteAllLines(Path.Combine(folder, "userlist.txt"),
            logins.Select(l => $"\"{l.Key.Replace("\"", "\"\"")}\" \"{l.Value.Replace("\"", "\"\"")}\""));
        var settings = new List<string>
        {
            "[databases]",
            $"* = host={server.Host} port={server.Port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            $"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = scram-sha-256",
            $"auth_file = {Path.Combine(folder, "userlist.txt")}",
            $"pool_mode = {poolMode}",
            $"logfile = {Path.Combine(folder, "pgbouncer.log")}",
        };
        if (onePerPool) settings.Add("default_pool_size = 1");
        var config = Path.Combine(folder, "pgbouncer.ini");
        File.WriteAllLines(config, settings);

        var root = Environment.IsPrivilegedProcess;
        if (root) TestProgram.Run("chown", ["-R", "postgres:postgres", folder]).Succeeded("chown");
        var start = root
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", Program, config])
            : new ProcessStartInfo(Program, [config]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start)!;
        var bouncer = new PgBouncerProcess(process, folder, port);
        var clock = Stopwatch.StartNew();
        while (!bouncer.Listening())
        {
            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                var log = File.Exists(bouncer.LogFile) ? File.ReadAllText(bouncer.LogFile) : "";
                bouncer.Dispose();
                throw new InvalidOperationException($"PgBouncer did not start: {process.StandardError.ReadToEnd()} {log}");
            }
            Thread.Sleep(50);
        }
        return bouncer;
    }

    /// <summary>A connection string through PgBouncer; Npgsql's own pool stays off so that each open is a new PgBouncer client.</summary>
    public string ConnectionString(string database, string user, string password, bool pooling = true) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = Port, Database = database, Username = user, Password = password, Pooling = pooling,
        }.ConnectionString;

    private bool Listening()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); process.WaitForExit(5000); } catch (InvalidOperationException) { }
        process.Dispose();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
