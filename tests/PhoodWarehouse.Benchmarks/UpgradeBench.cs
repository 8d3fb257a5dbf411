using PhoodWarehouse.Tests.Upgrade;

namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// How long an in-place upgrade takes on a loaded warehouse (docs/operations.md, 'Upgrading the warehouse'):
/// release 0.1.0 (its frozen SQL) installed and loaded with <c>tenants</c> × <c>days</c> × 200 rows through its own
/// window procedure, then Install-WhWarehouse's installer run against it, then once more (UpToDate).
///   dotnet run -c Release --project tests/PhoodWarehouse.Benchmarks -- --upgrade [--quick]
/// </summary>
internal static class UpgradeBench
{
    private const string Database = "phood_warehouse";
    private const string WhadminPassword = "bench-wh-pw";

    public static async Task RunAsync(ResultTable table, bool quick)
    {
        var tenants = quick ? 3 : 10;
        var days = quick ? 40 : 365;
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        await ExecAsync(cluster.ConnectionString(), $"CREATE DATABASE {Database}");
        var superuser = cluster.ConnectionString(Database);
        var whadmin = cluster.ConnectionString(Database, "whadmin", WhadminPassword);
        await new FrozenRelease("0.1.0").InstallAsync(superuser, whadmin, WhadminPassword, "bench-ro-pw");

        var today = DateOnly.FromDateTime(DateTime.Today);
        var load = Stopwatch.StartNew();
        for (var i = 1; i <= tenants; i++)
        {
            var source = $"up_src_{i:00}";
            await SampleTenantSource.CreateAsync(cluster.ConnectionString(), new SampleTenantSourceSpec
            {
                Database = source, ReaderUser = "up_reader", ReaderPassword = "bench-src-pw",
                FirstDay = today.AddDays(-(days - 1)), Days = days, RowsPerDay = 200, Seed = i,
            });
            await ExecAsync(whadmin,
                $"INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) " +
                $"VALUES ('t{i:00}', '{cluster.Host}', {cluster.Port}, '{source}', 'up_reader', 'bench-src-pw')");
            await ExecAsync(whadmin,
                $"CALL _wh.run_mv_window_by_template('foodlogstats', 't{i:00}', 't{i:00}', '{today.AddDays(-(days - 1)):yyyy-MM-dd}', '{today:yyyy-MM-dd}')");
        }
        load.Stop();

        // As Install-WhWarehouse runs it: the superuser part over the superuser's session, the _wh part over whadmin's.
        using var asSuperuser = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = superuser }, NullLogger.Instance, default);
        var superuserPart = Stopwatch.StartNew();
        var installer = new WarehouseInstaller(asSuperuser, NullLogger.Instance);
        await installer.InstallAsync(await installer.PlanAsync(default), default);
        superuserPart.Stop();
        using var asWhadmin = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = whadmin }, NullLogger.Instance, default);
        var whadminInstaller = new WarehouseInstaller(asWhadmin, NullLogger.Instance);
        var upgrade = Stopwatch.StartNew();
        var result = await whadminInstaller.InstallAsync(await whadminInstaller.PlanAsync(default), default);
        upgrade.Stop();
        var again = Stopwatch.StartNew();
        var second = await whadminInstaller.InstallAsync(await whadminInstaller.PlanAsync(default), default);
        again.Stop();

        var size = $"{tenants} tenants x {days} days x 200 rows";
        table.Add("u0", $"load with release 0.1.0's SQL window ({size})", $"{load.Elapsed.TotalSeconds:0.0} s");
        table.Add("u1s", "Install-WhWarehouse: the superuser part (roles, extensions, grants)", $"{superuserPart.Elapsed.TotalSeconds:0.00} s");
        table.Add("u1", $"Install-WhWarehouse: the _wh part, {result.Action} {result.PreviousVersion} -> {result.SchemaVersion} ({size})",
            $"{upgrade.Elapsed.TotalSeconds:0.00} s", "u0", $"{upgrade.Elapsed / load.Elapsed:0.000}x");
        table.Add("u2", $"Install-WhWarehouse again: {second.Action}", $"{again.Elapsed.TotalMilliseconds:0} ms");
    }

    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }
}
