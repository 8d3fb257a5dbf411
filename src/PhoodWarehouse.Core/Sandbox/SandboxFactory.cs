using System.Collections.Concurrent;
using System.Security;
using System.Security.Cryptography;
using PhoodWarehouse.Core.Install;
using PhoodWarehouse.Core.Local;

namespace PhoodWarehouse.Core.Sandbox;

/// <summary>
/// Builds a sandbox from the same pieces the tests use (<see cref="LocalPostgresCluster"/>,
/// <see cref="WarehouseInstaller"/>, <see cref="SampleTenantSource"/>), and stops every sandbox still running
/// when the process exits, so that a failing script leaves no server behind.
/// </summary>
public static class SandboxFactory
{
    private static readonly string[] SampleNames =
        ["north_campus", "city_hospital", "harbor_hotel", "stadium", "airport", "university", "tech_park", "museum"];
    private static readonly ConcurrentDictionary<WhSandbox, byte> Running = new();
    private static int exitHookRegistered;

    /// <summary>The steps a start takes, for -WhatIf.</summary>
    public static IReadOnlyList<string> Plan(SandboxOptions options)
    {
        var names = TenantNames(options.TenantCount);
        var first = FirstDay(options.Days);
        return
        [
            $"start a throwaway PostgreSQL cluster in {options.Path ?? "a new temporary folder"} on {(options.Port is { } port ? $"port {port}" : "a free port")} (pg_cron preloaded when installed)",
            $"create the database {SandboxOptions.Database} and install the warehouse {WarehouseInstaller.TargetVersion()} (the superuser part as the superuser, the _wh part as whadmin)",
            "give whadmin, phood_ro and phood_monitor random passwords",
            $"create {names.Count} tenant source database(s) ({string.Join(", ", names.Select(n => "src_" + n))}) with {options.Days} day(s) of data from {first:yyyy-MM-dd}, read by '{SandboxOptions.SourceUser}'",
            .. (options.Replica ? ["start a streaming hot standby of it in a folder of its own (pg_basebackup; hot_standby_feedback on)"] : Array.Empty<string>()),
            .. (options.Monitoring ? ["start postgres_exporter on a free local port as phood_monitor, with monitoring/postgres_exporter/queries.yaml"] : Array.Empty<string>()),
        ];
    }

    public static async Task<WhSandbox> StartAsync(SandboxOptions options, ILogger logger, CancellationToken cancel)
    {
        if (options.TenantCount is < 0 or > 26)
            throw new WarehouseException("InvalidTenantCount", WhErrorKind.InvalidArgument,
                "A sandbox holds 0 to 26 tenants.", options.TenantCount);
        if (options.Days is < 1 or > 3660)
            throw new WarehouseException("InvalidDays", WhErrorKind.InvalidArgument, "A sandbox holds 1 to 3660 days of data.", options.Days);
        string? path = null;
        if (options.Path is { } requested)
        {
            path = System.IO.Path.GetFullPath(requested);
            if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any())
                throw new WarehouseException("SandboxPathNotEmpty", WhErrorKind.ResourceExists,
                    $"The folder {path} is not empty. Stop-WhSandbox deletes the sandbox folder, so give it an empty or new folder.", path);
        }

        if (options.Monitoring && MonitoringExporter.FindProgram() is null) throw MonitoringExporter.NotInstalled();

        logger.LogInformation("Starting a throwaway PostgreSQL cluster");
        var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { Path = path, CronDatabase = SandboxOptions.Database, Port = options.Port });
        try
        {
            logger.LogInformation("Cluster running on {Host}:{Port} in {Folder}; pg_cron {PgCron}", cluster.Host, cluster.Port, cluster.Folder,
                cluster.PgCronPreloaded ? "preloaded" : "not installed (schedules unavailable)");
            await using (var admin = new NpgsqlConnection(cluster.ConnectionString()))
            {
                await admin.OpenAsync(cancel);
                await using var create = new NpgsqlCommand($"CREATE DATABASE {SandboxOptions.Database}", admin);
                await create.ExecuteNonQueryAsync(cancel);
            }

            var whadminPassword = NewPassword();
            var phoodRoPassword = NewPassword();
            var phoodMonitorPassword = NewPassword();
            var sourcePassword = NewPassword();
            // The superuser part as postgres, the _wh part over whadmin's own login (docs/security.md).
            using (var superuser = await WarehouseConnector.ConnectAsync(
                       new ConnectionRequest { ConnectionString = cluster.ConnectionString(SandboxOptions.Database) }, logger, cancel))
            {
                var installer = new WarehouseInstaller(superuser, logger,
                    new ConnectionRequest { ConnectionString = cluster.ConnectionString(SandboxOptions.Database, "whadmin", whadminPassword) });
                await installer.InstallAsync(await installer.PlanAsync(cancel), cancel);
            }
            await using (var admin = new NpgsqlConnection(cluster.ConnectionString(SandboxOptions.Database)))
            {
                await admin.OpenAsync(cancel);
                // Hex passwords need no quoting, but go through format(%L) all the same.
                await using var passwords = new NpgsqlCommand(
                    """
                    SELECT set_config('phood.w', @w, false), set_config('phood.r', @r, false), set_config('phood.m', @m, false);
                    DO $$ BEGIN
                      EXECUTE format('ALTER ROLE whadmin PASSWORD %L', current_setting('phood.w'));
                      EXECUTE format('ALTER ROLE phood_ro PASSWORD %L', current_setting('phood.r'));
                      EXECUTE format('ALTER ROLE phood_monitor PASSWORD %L', current_setting('phood.m'));
                    END $$;
                    """, admin);
                passwords.Parameters.AddWithValue("w", whadminPassword);
                passwords.Parameters.AddWithValue("r", phoodRoPassword);
                passwords.Parameters.AddWithValue("m", phoodMonitorPassword);
                await passwords.ExecuteNonQueryAsync(cancel);
            }

            var first = FirstDay(options.Days);
            var tenants = new List<WhSandboxTenant>();
            var seed = 1;
            foreach (var name in TenantNames(options.TenantCount))
            {
                var database = "src_" + name;
                logger.LogInformation("Generating tenant source {Database}: {Days} day(s) x {Rows} rows", database, options.Days, options.RowsPerDay);
                await SampleTenantSource.CreateAsync(cluster.ConnectionString(), new SampleTenantSourceSpec
                {
                    Database = database,
                    ReaderUser = SandboxOptions.SourceUser,
                    ReaderPassword = sourcePassword,
                    FirstDay = first,
                    Days = options.Days,
                    RowsPerDay = options.RowsPerDay,
                    Seed = seed++,
                }, cancel);
                tenants.Add(new WhSandboxTenant(name, cluster.Host, cluster.Port, database, SandboxOptions.SourceUser,
                    first, options.Days, options.RowsPerDay));
            }

            if (options.Replica)
            {
                logger.LogInformation("Starting a streaming hot standby");
                var standby = cluster.StartStandby();
                logger.LogInformation("Standby running on {Host}:{Port} in {Folder}", standby.Host, standby.Port, standby.Folder);
            }

            MonitoringExporter? exporter = null;
            if (options.Monitoring)
            {
                logger.LogInformation("Starting postgres_exporter as phood_monitor");
                exporter = await MonitoringExporter.StartAsync(cluster.Host, cluster.Port, SandboxOptions.Database, phoodMonitorPassword,
                    cluster.Folder, cancel);
                logger.LogInformation("postgres_exporter serves {Url}", exporter.MetricsUrl);
            }

            var sandbox = new WhSandbox(cluster, SandboxOptions.Database, whadminPassword, phoodRoPassword, phoodMonitorPassword,
                SandboxOptions.SourceUser, ToSecureString(sourcePassword), tenants, exporter);
            Track(sandbox);
            return sandbox;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    internal static void Forget(WhSandbox sandbox) => Running.TryRemove(sandbox, out _);

    private static void Track(WhSandbox sandbox)
    {
        Running[sandbox] = 0;
        if (Interlocked.Exchange(ref exitHookRegistered, 1) == 0)
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var running in Running.Keys) running.Stop();
            };
    }

    private static IReadOnlyList<string> TenantNames(int count) =>
        Enumerable.Range(0, count).Select(i => i < SampleNames.Length ? SampleNames[i] : $"tenant_{(char)('a' + i)}").ToList();

    private static DateOnly FirstDay(int days) => DateOnly.FromDateTime(DateTime.Today).AddDays(-(days - 1));

    private static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    private static SecureString ToSecureString(string value)
    {
        var secure = new SecureString();
        foreach (var c in value) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }
}
