using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Images;
using Testcontainers.PostgreSql;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// The real PostgreSQL every database test runs against, chosen in this order:
/// (a) PHOOD_TEST_PG, a superuser connection string; (b) local server programs: a throwaway cluster with
/// pg_cron preloaded, stopped and deleted when the run ends; (c) a Docker engine: Testcontainers with the image
/// built from tests/docker. None of them → the run fails and says how to get one. Nothing is skipped.
/// A subclass may bring a cluster of its own (<see cref="StartOwnCluster"/>: the replica tests' primary and standby).
/// </summary>
public class PostgresServer : IAsyncLifetime
{
    public const string WhadminPassword = "wh'admin pw\\;=é";
    public const string PhoodRoPassword = "ro 'bi' pw\\;=ü";
    /// <summary>Awkward too, but without a space: postgres_exporter 0.11's DSN parser fails on one (docs/monitoring.md).</summary>
    public const string PhoodMonitorPassword = "mon'it\\pw;=ö@:/%?&#";
    public const string SourceReaderPassword = "r'o pa\\ss;=é";
    private static int counter;
    private PostgreSqlContainer? container;
    private string superuserConnectionString = "";

    /// <summary>The throwaway cluster when (b) was chosen: fault tests stop and restart it.</summary>
    public LocalPostgresCluster? Cluster { get; private set; }
    public bool HasPgCron { get; private set; }
    public string Host => new NpgsqlConnectionStringBuilder(superuserConnectionString).Host!;
    public int Port => new NpgsqlConnectionStringBuilder(superuserConnectionString).Port;

    /// <summary>A cluster this fixture must run on whatever PHOOD_TEST_PG says; null (the default) to choose as above.</summary>
    protected virtual LocalPostgresCluster? StartOwnCluster() => null;

    public async Task InitializeAsync()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("PHOOD_TEST_PG");
        if (StartOwnCluster() is { } own)
        {
            Cluster = own;
            superuserConnectionString = own.ConnectionString();
        }
        else if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            superuserConnectionString = fromEnvironment;
        }
        else if (PostgresBinaries.Find() is not null)
        {
            Cluster = LocalPostgresCluster.Start();
            superuserConnectionString = Cluster.ConnectionString();
        }
        else if (File.Exists("/var/run/docker.sock") || Environment.GetEnvironmentVariable("DOCKER_HOST") is not null)
        {
            superuserConnectionString = await StartContainerAsync();
        }
        else
        {
            throw new InvalidOperationException(
                "No PostgreSQL for the tests: set PHOOD_TEST_PG to a superuser connection string, install the PostgreSQL " +
                "server programs (Debian: apt-get install postgresql postgresql-15-cron), or run a Docker engine.");
        }

        await using var admin = await OpenAsync("postgres");
        HasPgCron = (bool)(await Scalar(admin,
            "SELECT current_setting('shared_preload_libraries') ~ 'pg_cron'"))!;
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        Cluster?.Dispose();
        if (container is not null) await container.DisposeAsync();
    }

    public string ConnectionString(string database = "postgres", string? user = null, string? password = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(superuserConnectionString) { Database = database };
        if (user is not null)
        {
            builder.Username = user;
            builder.Password = password ?? user switch
            {
                "whadmin" => WhadminPassword,
                "phood_ro" => PhoodRoPassword,
                "phood_monitor" => PhoodMonitorPassword,
                _ => throw new ArgumentException($"No known password for {user}."),
            };
        }
        return builder.ConnectionString;
    }

    public async Task<NpgsqlConnection> OpenAsync(string database, string? user = null, string? password = null)
    {
        var connection = new NpgsqlConnection(ConnectionString(database, user, password));
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Runs SQL as the superuser in <paramref name="database"/> (a tenant source, say).</summary>
    public async Task ExecuteAsync(string database, string sql)
    {
        await using var db = await OpenAsync(database);
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<object?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public static string UniqueName(string prefix) => $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref counter)}";

    /// <summary>An empty database (dblink not yet installed).</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "wh")
    {
        var name = UniqueName(prefix);
        await using var admin = await OpenAsync("postgres");
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
        return name;
    }

    /// <summary>
    /// A database with the warehouse installed as Install-WhWarehouse -WhadminCredential does it: the superuser part as
    /// the superuser, the _wh part over whadmin's own login.
    /// </summary>
    public async Task<string> CreateWarehouseAsync(string? database = null)
    {
        database ??= await CreateDatabaseAsync();
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = ConnectionString(database) }, NullLogger.Instance, default);
        var installer = new WarehouseInstaller(connection, NullLogger.Instance,
            new ConnectionRequest { ConnectionString = ConnectionString(database, "whadmin") });
        await installer.InstallAsync(await installer.PlanAsync(default), default);
        await SetRolePasswordsAsync();
        await MarkForTestsAsync(database);
        return database;
    }

    /// <summary>The database pg_cron serves (cron.database_name), with the warehouse installed once.</summary>
    public async Task<string> CronWarehouseAsync()
    {
        await using var admin = await OpenAsync("postgres");
        if (!(bool)(await Scalar(admin, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'phood_warehouse')"))!)
            await using (var create = new NpgsqlCommand("CREATE DATABASE phood_warehouse", admin)) await create.ExecuteNonQueryAsync();
        return await CreateWarehouseAsync("phood_warehouse");
    }

    /// <summary>
    /// Marks a warehouse for tests, as only its installer can (a database setting: whadmin cannot): there _wh.now()
    /// honours a session's phood.now, so a test can move the clock across midnight.
    /// </summary>
    public async Task MarkForTestsAsync(string database)
    {
        await using var admin = await OpenAsync("postgres");
        await using var mark = new NpgsqlCommand($"ALTER DATABASE \"{database}\" SET phood.test_clock = 'on'", admin);
        await mark.ExecuteNonQueryAsync();
    }

    public async Task SetRolePasswordsAsync()
    {
        await using var admin = await OpenAsync("postgres");
        await using var command = new NpgsqlCommand(
            """
            DO $$ BEGIN
              EXECUTE format('ALTER ROLE whadmin PASSWORD %L', current_setting('phood.whadmin_pw'));
              EXECUTE format('ALTER ROLE phood_ro PASSWORD %L', current_setting('phood.ro_pw'));
              -- (A warehouse of an older release, installed to be upgraded, has no monitoring login yet.)
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'phood_monitor') THEN
                EXECUTE format('ALTER ROLE phood_monitor PASSWORD %L', current_setting('phood.monitor_pw'));
              END IF;
            END $$;
            """, admin);
        await using (var set = new NpgsqlCommand("SELECT set_config('phood.whadmin_pw', @w, false), set_config('phood.ro_pw', @r, false), set_config('phood.monitor_pw', @m, false)", admin))
        {
            set.Parameters.AddWithValue("w", WhadminPassword);
            set.Parameters.AddWithValue("r", PhoodRoPassword);
            set.Parameters.AddWithValue("m", PhoodMonitorPassword);
            await set.ExecuteNonQueryAsync();
        }
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A tenant's own database with generated rows and a read-only login whose password is awkward on purpose.</summary>
    public async Task<TenantSource> CreateTenantSourceAsync(int days = 5, int rowsPerDay = 50, DateOnly? firstDay = null, int seed = 1, string? readerUser = null)
    {
        var name = UniqueName("src");
        var spec = new SampleTenantSourceSpec
        {
            Database = name,
            ReaderUser = readerUser ?? name + "_reader",
            ReaderPassword = SourceReaderPassword,
            FirstDay = firstDay ?? WarehouseClock.ServerToday(ConnectionString()).AddDays(-(days - 1)),
            Days = days,
            RowsPerDay = rowsPerDay,
            Seed = seed,
        };
        await SampleTenantSource.CreateAsync(ConnectionString(), spec);
        return new TenantSource(Host, Port, spec.Database, spec.ReaderUser, spec.ReaderPassword, spec.FirstDay, days, rowsPerDay);
    }

    private async Task<string> StartContainerAsync()
    {
        var image = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(Path.Combine(RepositoryPaths.Root, "tests", "docker"))
            .WithName("phoodwh-postgres-cron:15")
            .Build();
        await image.CreateAsync();
        container = new PostgreSqlBuilder(image.FullName)
            .WithCommand("-c", "shared_preload_libraries=pg_cron", "-c", "cron.database_name=phood_warehouse",
                "-c", "cron.host=/var/run/postgresql")
            .Build();
        await container.StartAsync();
        return container.GetConnectionString();
    }
}

/// <summary>A tenant source database and its read-only login.</summary>
public sealed record TenantSource(string Host, int Port, string Database, string ReaderUser, string ReaderPassword,
    DateOnly FirstDay, int Days, int RowsPerDay);

[CollectionDefinition(Name)]
public sealed class WarehouseCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "warehouse";
}
