using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace PhoodWarehouse.Core.Local;

/// <summary>
/// A throwaway PostgreSQL cluster in a folder of its own, on a free port: TCP with scram-sha-256 (so that
/// dblink as a non-superuser works, architecture fact 5), local socket with trust (so that pg_cron's jobs
/// connect, fact 8) that only the cluster's OS user can open (unix_socket_permissions 0700). Runs as the postgres OS user when the process is root. Stopped and deleted on dispose;
/// a cluster left behind by a killed process is cleaned up by the next start.
/// Used by the tests, the benchmark and Start-WhSandbox. <see cref="StartStandby"/> adds a streaming hot standby
/// (pg_basebackup -R -X stream over the socket), which is stopped and deleted with it.
/// </summary>
public sealed class LocalPostgresCluster : IDisposable
{
    private const string FolderPrefix = "phoodwh-";
    private const string OwnerFile = "owner.pid";
    private readonly PostgresBinaries binaries;
    private readonly string? osUser;
    private readonly List<LocalPostgresCluster> standbys = [];
    private bool disposed;

    private LocalPostgresCluster(PostgresBinaries binaries, string folder, int port, string password, bool pgCron, string? osUser,
        LocalPostgresCluster? primary = null)
    {
        this.binaries = binaries;
        this.osUser = osUser;
        Folder = folder;
        Port = port;
        SuperuserPassword = password;
        PgCronPreloaded = pgCron;
        Primary = primary;
    }

    public string Folder { get; }
    public string DataDirectory => System.IO.Path.Combine(Folder, "data");
    public string SocketDirectory => Folder;
    public string LogFile => System.IO.Path.Combine(Folder, "server.log");
    public int Port { get; }
    public string Host => "127.0.0.1";
    public string Superuser => "postgres";
    public string SuperuserPassword { get; }
    public bool PgCronPreloaded { get; }
    /// <summary>The cluster this one streams from; null for a primary.</summary>
    public LocalPostgresCluster? Primary { get; }
    public bool IsStandby => Primary is not null;
    /// <summary>The running standbys of this cluster (each disposed with it).</summary>
    public IReadOnlyList<LocalPostgresCluster> Standbys { get { lock (standbys) return standbys.ToList(); } }

    /// <summary>A superuser connection string over TCP (password authentication) to <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres", string? user = null, string? password = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = Host,
            Port = Port,
            Database = database,
            Username = user ?? Superuser,
            Password = password ?? SuperuserPassword,
            Pooling = true,
            Timeout = 15,
        }.ConnectionString;

    public static LocalPostgresCluster Start(LocalClusterOptions? options = null)
    {
        options ??= new LocalClusterOptions();
        var binaries = options.Binaries ?? PostgresBinaries.Find() ?? throw new WarehouseException("PostgresNotFound", WhErrorKind.NotInstalled,
            "No PostgreSQL server programs (initdb, pg_ctl) were found on PATH or under /usr/lib/postgresql/*/bin. " +
            "Install them (Debian: apt-get install postgresql), or set PHOOD_TEST_PG to a superuser connection string.");
        CleanUpAbandoned();
        if (options.Port is { } wanted && !PortIsFree(wanted))
            throw new WarehouseException("PortInUse", WhErrorKind.ResourceExists,
                $"Port {wanted} on 127.0.0.1 is in use. Give another -Port, or leave it out for a free one. Nothing was started.", wanted);

        var folder = options.Path ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), FolderPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(System.IO.Path.Combine(folder, OwnerFile), Environment.ProcessId.ToString());
        var osUser = Environment.IsPrivilegedProcess ? "postgres" : null;
        var password = "pw-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        var port = options.Port ?? FreePort();
        var pgCron = options.PreloadPgCron && binaries.HasPgCron;
        var cluster = new LocalPostgresCluster(binaries, folder, port, password, pgCron, osUser);
        try
        {
            cluster.InitAndStart(options);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a streaming hot standby of this (primary) cluster in a folder of its own, on a free port: a base backup
    /// over the local socket (initdb's default pg_hba.conf trusts local replication), primary_conninfo written by
    /// pg_basebackup -R, WAL streamed during the copy. Same superuser and password (the catalog is the primary's).
    /// Returns once the standby accepts read-only connections; disposed with this cluster, or on its own.
    /// </summary>
    public LocalPostgresCluster StartStandby(LocalStandbyOptions? options = null)
    {
        options ??= new LocalStandbyOptions();
        ObjectDisposedException.ThrowIf(disposed, this);
        if (IsStandby)
            throw new WarehouseException("StandbyOfStandby", WhErrorKind.InvalidArgument,
                "Start the standby from the primary cluster: this one is itself a standby.", Folder);
        if (!File.Exists(binaries.PgBaseBackup))
            throw new WarehouseException("PostgresNotFound", WhErrorKind.NotInstalled,
                $"pg_basebackup was not found in {binaries.BinDirectory}: install the PostgreSQL client programs beside the server's.", binaries.BinDirectory);

        var folder = options.Path ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), FolderPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(System.IO.Path.Combine(folder, OwnerFile), Environment.ProcessId.ToString());
        var standby = new LocalPostgresCluster(binaries, folder, FreePort(), SuperuserPassword, PgCronPreloaded, osUser, this);
        try
        {
            if (osUser is not null) Chown(folder, osUser);
            standby.Check(ProcessRunner.Run(binaries.PgBaseBackup,
                ["-h", SocketDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", Superuser,
                 "-D", standby.DataDirectory, "-R", "-X", "stream", "-c", "fast", "--no-sync"],
                osUser, TimeSpan.FromSeconds(300)), "pg_basebackup");
            // Later lines win: the copied postgresql.conf still names the primary's port and socket folder.
            var settings = new List<string>
            {
                $"port = {standby.Port}",
                $"unix_socket_directories = '{standby.SocketDirectory}'",
                "hot_standby = on",
                // The application_name its walreceiver gives the primary (pg_stat_replication, Get-WhHealth).
                $"cluster_name = 'standby_{standby.Port}'",
                $"hot_standby_feedback = {(options.HotStandbyFeedback ? "on" : "off")}",
            };
            settings.AddRange(options.ExtraSettings);
            File.AppendAllLines(System.IO.Path.Combine(standby.DataDirectory, "postgresql.conf"), settings);
            standby.Restart();
            lock (standbys) standbys.Add(standby);
            return standby;
        }
        catch
        {
            standby.Dispose();
            throw;
        }
    }

    private void InitAndStart(LocalClusterOptions options)
    {
        var passwordFile = System.IO.Path.Combine(Folder, "pwfile");
        File.WriteAllText(passwordFile, SuperuserPassword + "\n");
        if (osUser is not null) Chown(Folder, osUser);

        Check(ProcessRunner.Run(binaries.InitDb,
            ["-D", DataDirectory, "-U", Superuser, "--pwfile", passwordFile, "-E", "UTF8", "--no-locale",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
            osUser, TimeSpan.FromSeconds(120)), "initdb");
        File.Delete(passwordFile);

        var settings = new List<string>
        {
            $"port = {Port}",
            "listen_addresses = '127.0.0.1'",
            $"unix_socket_directories = '{SocketDirectory}'",
            // The socket trusts whoever reaches it (pg_cron's jobs log in through it): only the cluster's own OS user may.
            "unix_socket_permissions = 0700",
            // A throwaway cluster: durability buys nothing here, and costs seconds per test run.
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 100",
        };
        if (PgCronPreloaded)
        {
            settings.Add("shared_preload_libraries = 'pg_cron'");
            settings.Add($"cron.database_name = '{options.CronDatabase}'");
            // pg_cron connects over libpq as the job's user: through the socket (trust), not TCP (scram).
            settings.Add($"cron.host = '{SocketDirectory}'");
        }
        settings.AddRange(options.ExtraSettings);
        File.AppendAllLines(System.IO.Path.Combine(DataDirectory, "postgresql.conf"), settings);

        Check(ProcessRunner.Run(binaries.PgCtl,
            ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "start"],
            osUser, TimeSpan.FromSeconds(90)), "pg_ctl start");
    }

    /// <summary>Stops the server (immediately) without deleting it; <see cref="Restart"/> brings it back.</summary>
    public void Stop() =>
        ProcessRunner.Run(binaries.PgCtl, ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], osUser, TimeSpan.FromSeconds(60));

    public void Restart() =>
        Check(ProcessRunner.Run(binaries.PgCtl, ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "start"],
            osUser, TimeSpan.FromSeconds(90)), "pg_ctl start");

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var standby in Standbys) standby.Dispose();
        Primary?.Forget(this);
        if (Directory.Exists(DataDirectory)) Stop();
        NpgsqlConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private void Forget(LocalPostgresCluster standby)
    {
        lock (standbys) standbys.Remove(standby);
    }

    private void Check(ProcessOutput output, string step)
    {
        if (output.ExitCode == 0) return;
        var log = File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";
        throw new WarehouseException("LocalClusterFailed", WhErrorKind.OperationFailed,
            $"{step} failed (exit {output.ExitCode}): {output.StandardError.Trim()} {log.Trim()}".Trim(), Folder);
    }

    private static void Chown(string path, string user)
    {
        var result = ProcessRunner.Run("chown", ["-R", $"{user}:{user}", path], null, TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
            throw new WarehouseException("LocalClusterFailed", WhErrorKind.OperationFailed,
                $"Could not give {path} to the '{user}' OS user: {result.StandardError.Trim()}", path);
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops and deletes clusters whose owning process no longer runs (a test run that was killed).</summary>
    private static void CleanUpAbandoned()
    {
        foreach (var folder in Directory.GetDirectories(System.IO.Path.GetTempPath(), FolderPrefix + "*"))
        {
            var ownerFile = System.IO.Path.Combine(folder, OwnerFile);
            if (!File.Exists(ownerFile) || !int.TryParse(File.ReadAllText(ownerFile), out var owner) || IsRunning(owner)) continue;
            var binaries = PostgresBinaries.Find();
            var data = System.IO.Path.Combine(folder, "data");
            if (binaries is not null && Directory.Exists(data))
                ProcessRunner.Run(binaries.PgCtl, ["-D", data, "-m", "immediate", "-w", "stop"],
                    Environment.IsPrivilegedProcess ? "postgres" : null, TimeSpan.FromSeconds(30));
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static bool IsRunning(int processId)
    {
        try { using var process = Process.GetProcessById(processId); return !process.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
