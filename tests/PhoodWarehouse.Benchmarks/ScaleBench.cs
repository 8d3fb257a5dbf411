using System.Globalization;
using PhoodWarehouse.Core.Install;
using PhoodWarehouse.Tests.Upgrade;

namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// Rows s0-s9 (issue 31): a warehouse of years. 100 tenants x 1,825 days (5 rows a day) loaded by the module as a fleet
/// whose sources live on three source servers of their own, then measured as it is: the catalog (and the design's lower
/// bound: the same warehouse without a relation per day), pg_dump, a new backend's first commands, the everyday
/// commands, BI against the same rows in one table, the scheduled job's 7-day check, and an upgrade.
///   dotnet run -c Release --project tests/PhoodWarehouse.Benchmarks -- --scale [--scale-tenants N] [--scale-days N]
/// (--quick: 10 x 120). Not part of CI: the full size takes about half an hour here.
/// </summary>
internal sealed partial class Bench
{
    private static readonly string[] Catalogs = ["pg_class", "pg_attribute", "pg_rewrite", "pg_depend", "pg_type"];

    public async Task ScaleAsync(ResultTable table, int tenantCount, int days)
    {
        const int rows = 5, sourceServers = 3, throttle = 4;
        Console.WriteLine($"Scale: {tenantCount} tenants x {days} days x {rows} rows, sources on {sourceServers} servers...");
        var servers = new List<LocalPostgresCluster>();
        try
        {
            for (var i = 0; i < sourceServers; i++) servers.Add(LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false }));
            var sources = new List<(LocalPostgresCluster Server, string Database)>();
            foreach (var server in servers) sources.Add((server, await SourceAsync(days, rows, 500 + sources.Count, server: server)));
            var tenants = new List<string>();
            for (var i = 1; i <= tenantCount; i++)
            {
                tenants.Add($"sc_{i:000}");
                var (server, database) = sources[(i - 1) % sources.Count];
                await TenantAsync(tenants[^1], database, server);
            }
            await RemoveTenantsExcept(tenants);

            // s0: the load, one backfill of the fleet with default settings; connections sampled on every server.
            using var stop = new CancellationTokenSource();
            var sourcePeaks = servers.Select(s => PeakAsync(s.ConnectionString("postgres"),
                "SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'src_reader'", stop.Token)).ToList();
            var warehousePeak = PeakAsync(Super("postgres"), $"SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'whadmin' AND datname = '{Warehouse}'", stop.Token);
            var (load, failed) = await BackfillAsync(tenants, days, throttle, progress: true);
            await stop.CancelAsync();
            var peaks = new List<int>();
            foreach (var peak in sourcePeaks) peaks.Add(await peak);
            var dailyNames = await ScalarAsync<long>(Whadmin, "SELECT count(*) FROM _wh.daily_views");
            table.Add("s0", $"load: {tenantCount} tenants x {days} days x {rows} rows, one backfill (throttle {throttle}), {failed} failed, {dailyNames:N0} daily names",
                Seconds(load), "", "", "0 failed", Met(failed == 0));
            table.Add("", $"  ({tenantCount * days / load.TotalSeconds:0} days/s; peak source backends per server {string.Join(", ", peaks)} (at most the throttle {throttle}: {Met(peaks.Max() <= throttle)}); " +
                $"peak warehouse sessions of whadmin {await warehousePeak} (at most {throttle + 1}: {Met(await warehousePeak <= throttle + 1)}))", "");

            // s1: the everyday commands (warm: median of 5 after a warm-up).
            var figures = await CatalogFiguresAsync(tenants[0]);
            string[] names = ["Get-WhTenant", "Get-WhMvFreshness (30 days)", "Get-WhMv -Tenant of one tenant (every day)", "Get-WhHealth (every check)",
                              "Export-WhFreshnessReport -Days 90"];
            int[] targets = [250, 250, 250, 250, 500];
            for (var i = 0; i < names.Length; i++)
                table.Add(i == 0 ? "s1" : "", $"{names[i]} at {tenantCount} x {days}", Ms(figures.Figures[i]), "", "", $"< {targets[i]} ms", Met(figures.Figures[i] < targets[i]));

            // s2: a new backend's first commands (cold catalog caches), and its private memory after them.
            await ColdBackendAsync(table);

            // s3: the scheduled job's daily check of 7 closed days, one tenant.
            await using (var jobSession = new NpgsqlConnection(Whadmin))
            {
                await jobSession.OpenAsync();
                var daily = await TimeAsync(() => Scalar<long>(jobSession,
                    $"SELECT count(*) FROM _wh.check_mv_window_by_template('foodlogstats', '{tenants[0]}', '{tenants[0]}', @f, @t) WHERE status = 'Match'",
                    ("f", today.AddDays(-8)), ("t", today.AddDays(-2))));
                table.Add("s3", "the job's daily check of 7 closed days, one tenant", Ms(daily), "", "", "< 100 ms", Met(daily < 100));
            }

            // s4: BI against the same rows in one table.
            await ReferenceTableAsync(tenants);
            await CompareBiAsync(table, "s4", "", tenants, 1.5);

            // s5: pg_dump. It locks every relation in one transaction: past max_locks_per_transaction x max_connections
            // relations it fails; then again with the lock table it needs (a restart), as a DBA would have to.
            var dumped = await DumpAsync(table, "s5", "pg_dump --schema-only", "--schema-only");
            dumped &= await DumpAsync(table, "", "pg_dump -Fc (everything)", "-Fc");
            if (!dumped) await DumpWithLocksAsync(table);

            // s6: the upgrade of such a warehouse (the version marker set back one release; every routine re-created).
            await UpgradeInPlaceAsync(table);

            // s7: the catalog, against the design's lower bound: the same warehouse without a relation per day.
            await CatalogSizeAsync(table, dailyNames);
        }
        finally
        {
            foreach (var server in servers) server.Dispose();
        }
    }

    private async Task ColdBackendAsync(ResultTable table)
    {
        // A pool of one: Connect-WhWarehouse's checks and the first Get-WhTenant run in the same new backend.
        var whadmin = new NpgsqlConnectionStringBuilder(Whadmin) { ApplicationName = "scale-cold-whadmin", MaxPoolSize = 1 }.ConnectionString;
        var watch = Stopwatch.StartNew();
        using (var cold = await Connect(whadmin))
        {
            var connect = watch.Elapsed.TotalMilliseconds;
            var store = new TenantStore(cold, NullLogger.Instance);
            watch.Restart();
            await store.ListAsync([], default);
            var first = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            await store.ListAsync([], default);
            var second = watch.Elapsed.TotalMilliseconds;
            var memory = await BackendMemoryAsync("scale-cold-whadmin");
            table.Add("s2", $"a new whadmin backend: Connect-WhWarehouse {Ms(connect)}, then the first Get-WhTenant", Ms(first),
                $"second {Ms(second)}", Ratio(first, second), "< 250 ms", Met(first < 250));
            table.Add("", $"  (that backend's private memory after them: {memory})", "");
        }

        var ro = new NpgsqlConnectionStringBuilder(Ro) { ApplicationName = "scale-cold-ro", Pooling = false }.ConnectionString;
        const string query = """
            SELECT client, count(*), sum(weight) FROM public.foodlogstats
            WHERE logged_time >= current_date - 30 AND logged_time < current_date + 1 GROUP BY client
            """;
        await using var bi = new NpgsqlConnection(ro);
        watch.Restart();
        await bi.OpenAsync();
        var open = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        await Scalar<object>(bi, query);
        var firstQuery = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        await Scalar<object>(bi, query);
        var secondQuery = watch.Elapsed.TotalMilliseconds;
        table.Add("", $"a new phood_ro backend: connect {Ms(open)}, then the first 30-day aggregate on public.foodlogstats", Ms(firstQuery),
            $"second {Ms(secondQuery)}", Ratio(firstQuery, secondQuery), "", "");
        table.Add("", $"  (that backend's private memory after it: {await BackendMemoryAsync("scale-cold-ro")})", "");
    }

    /// <summary>RssAnon of the backend with that application name (its caches: catalog, relations, plans), from /proc.</summary>
    private async Task<string> BackendMemoryAsync(string applicationName)
    {
        var pid = await ScalarAsync<int>(Super(), $"SELECT pid FROM pg_stat_activity WHERE application_name = '{applicationName}' LIMIT 1");
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status)) return "unknown (no /proc)";
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("RssAnon:"));
        return line is null ? "unknown" : line["RssAnon:".Length..].Trim();
    }

    private async Task DumpWithLocksAsync(ResultTable table)
    {
        var relations = await ScalarAsync<long>(Super(), "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f')");
        var connections = long.Parse(await ScalarAsync<string>(Super(), "SHOW max_connections"), CultureInfo.InvariantCulture);
        var locks = 64;
        while (locks * connections < relations * 5 / 4) locks *= 2;
        await ExecAsync(Super(), $"ALTER SYSTEM SET max_locks_per_transaction = {locks}");
        NpgsqlConnection.ClearAllPools();
        await ExecAsync(Super(), "CHECKPOINT");
        cluster.Stop();
        cluster.Restart();
        NpgsqlConnection.ClearAllPools(); // the pool's sessions ended with the server
        table.Add("", $"  ({relations:N0} relations; max_locks_per_transaction {locks}, a restart:)", "");
        await DumpAsync(table, "", "pg_dump --schema-only", "--schema-only");
        await DumpAsync(table, "", "pg_dump -Fc (everything)", "-Fc");
        await ExecAsync(Super(), "ALTER SYSTEM RESET max_locks_per_transaction");
        NpgsqlConnection.ClearAllPools();
        await ExecAsync(Super(), "CHECKPOINT");
        cluster.Stop();
        cluster.Restart();
        NpgsqlConnection.ClearAllPools(); // the pool's sessions ended with the server
    }

    private async Task<bool> DumpAsync(ResultTable table, string id, string what, string format)
    {
        var binaries = PostgresBinaries.Find() ?? throw new InvalidOperationException("no PostgreSQL binaries");
        var file = Path.Combine(Path.GetTempPath(), $"phood-scale-{Guid.NewGuid():N}.dump");
        var builder = new NpgsqlConnectionStringBuilder(Super());
        var start = new ProcessStartInfo(Path.Combine(binaries.BinDirectory, "pg_dump"))
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var argument in new[] { format, "-h", builder.Host!, "-p", builder.Port.ToString(CultureInfo.InvariantCulture), "-U", builder.Username!, "-f", file, Warehouse })
            start.ArgumentList.Add(argument);
        start.Environment["PGPASSWORD"] = builder.Password;
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        watch.Stop();
        var size = File.Exists(file) ? new FileInfo(file).Length : 0;
        File.Delete(file);
        table.Add(id, process.ExitCode == 0 ? $"{what}: {size / 1024.0 / 1024.0:0.0} MB" : $"{what}: FAILED: {error.Split('\n')[0]}",
            Seconds(watch.Elapsed), "", "", "", process.ExitCode == 0 ? "" : "NO");
        return process.ExitCode == 0;
    }

    private async Task UpgradeInPlaceAsync(ResultTable table)
    {
        var version = await ScalarAsync<string>(Super(), "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'");
        var previous = new FrozenRelease(FrozenRelease.All().Select(v => (string)v[0]).Last()).SchemaVersion;
        await ExecAsync(Super(), $"UPDATE _wh.warehouse_info SET value = '{previous}' WHERE key = 'schema_version'");
        using var asSuperuser = await Connect(Super());
        var watch = Stopwatch.StartNew();
        var installer = new WarehouseInstaller(asSuperuser, NullLogger.Instance);
        await installer.InstallAsync(await installer.PlanAsync(default), default);
        var superuserPart = watch.Elapsed;
        using var asWhadmin = await Connect(Whadmin);
        var whadminInstaller = new WarehouseInstaller(asWhadmin, NullLogger.Instance);
        watch.Restart();
        var result = await whadminInstaller.InstallAsync(await whadminInstaller.PlanAsync(default), default);
        watch.Stop();
        table.Add("s6", $"upgrade in place {result.PreviousVersion} -> {result.SchemaVersion} ({result.Action}): the _wh part (superuser part {Seconds(superuserPart)})",
            Seconds(watch.Elapsed), "", "", "", result.SchemaVersion == version ? "" : "NO");
    }

    /// <summary>
    /// Rows, and bytes after VACUUM FULL, of the catalogs a relation per day fills, here and in a copy of this warehouse
    /// without its daily relations (what one table per tenant and template needs: the design's lower bound).
    /// </summary>
    private async Task CatalogSizeAsync(ResultTable table, long dailyNames)
    {
        NpgsqlConnection.ClearAllPools();
        const string copy = "phood_scale_lower_bound";
        await ExecAsync(Super("postgres"), $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{Warehouse}' AND pid <> pg_backend_pid()");
        await ExecAsync(Super("postgres"), $"DROP DATABASE IF EXISTS {copy}");
        var watch = Stopwatch.StartNew();
        await ExecAsync(Super("postgres"), $"CREATE DATABASE {copy} TEMPLATE {Warehouse}");
        var copyTime = watch.Elapsed;
        var whadminCopy = As("whadmin", "bench-wh-pw", copy);
        var tenants = new List<string>();
        await using (var db = new NpgsqlConnection(whadminCopy))
        {
            await db.OpenAsync();
            await using (var command = new NpgsqlCommand("SELECT schema_name FROM _wh.tenants ORDER BY 1", db))
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync()) tenants.Add(reader.GetString(0));
            watch.Restart();
            foreach (var tenant in tenants)
                await Exec(db, $"""
                    DO $drop$ DECLARE r record; BEGIN
                      FOR r IN SELECT d.relation, d.kind FROM _wh.daily_views d WHERE d.schema_name = '{tenant}' AND d.kind IN ('m', 'v') LOOP
                        EXECUTE format(CASE r.kind WHEN 'm' THEN 'DROP MATERIALIZED VIEW %I.%I' ELSE 'DROP VIEW %I.%I' END, '{tenant}', r.relation);
                      END LOOP;
                    END $drop$;
                    """);
        }
        var dropTime = watch.Elapsed;
        var here = await CatalogRowsAsync(Super());
        var bound = await CatalogRowsAsync(Super(copy));
        table.Add("s7", $"catalog after VACUUM FULL ({dailyNames:N0} daily names), against the same warehouse without its daily relations", "", "", "", "", "");
        foreach (var name in Catalogs)
            table.Add("", $"  {name}: {here[name].Rows:N0} rows, {Mb(here[name].Bytes)}", Mb(here[name].Bytes),
                $"{bound[name].Rows:N0} rows, {Mb(bound[name].Bytes)}", Ratio(here[name].Bytes, bound[name].Bytes), "", "");
        var (rowsHere, bytesHere) = (Catalogs.Sum(c => here[c].Rows), Catalogs.Sum(c => here[c].Bytes));
        var (rowsBound, bytesBound) = (Catalogs.Sum(c => bound[c].Rows), Catalogs.Sum(c => bound[c].Bytes));
        table.Add("", $"  the five: {rowsHere:N0} rows; per daily name {(bytesHere - bytesBound) / Math.Max(1, dailyNames):N0} bytes; database {Mb(here["database"].Bytes)} against {Mb(bound["database"].Bytes)}",
            Mb(bytesHere), $"{rowsBound:N0} rows, {Mb(bytesBound)}", Ratio(bytesHere, bytesBound), "", "");
        table.Add("", $"  (copy of the database {Seconds(copyTime)}; dropping its daily relations, a transaction per tenant, {Seconds(dropTime)})", "");
        NpgsqlConnection.ClearAllPools();
        await ExecAsync(Super("postgres"), $"DROP DATABASE {copy} WITH (FORCE)");
    }

    private static string Mb(double bytes) => $"{bytes / 1024 / 1024:0.0} MB";

    private static async Task<Dictionary<string, (long Rows, long Bytes)>> CatalogRowsAsync(string connectionString)
    {
        await ExecAsync(connectionString, "VACUUM FULL " + string.Join(", ", Catalogs));
        var figures = new Dictionary<string, (long Rows, long Bytes)>();
        foreach (var name in Catalogs)
            figures[name] = (await ScalarAsync<long>(connectionString, $"SELECT count(*) FROM pg_catalog.{name}"),
                             await ScalarAsync<long>(connectionString, $"SELECT pg_total_relation_size('pg_catalog.{name}')"));
        figures["database"] = (0, await ScalarAsync<long>(connectionString, "SELECT pg_database_size(current_database())"));
        return figures;
    }
}
