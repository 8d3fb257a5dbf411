using System.Diagnostics;
using Xunit.Abstractions;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Many tenants on one source server with few connection slots (architecture fact 11): a backfill holds at most
/// ThrottleLimit connections on it, and a connection it refuses for a moment is retried, not failed.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SharedSourceServerTests(PostgresServer server, ITestOutputHelper output)
{
    private DateOnly Today => WarehouseClock.ServerToday(server.ConnectionString());

    [Fact]
    public async Task Twenty_six_tenants_on_one_small_source_server_backfill_with_default_settings_within_the_throttle()
    {
        const int tenants = 26, days = 60, rows = 10, throttle = 4;
        using var source = StartSourceServer();
        var watch = Stopwatch.StartNew();
        var specs = await CreateSourcesAsync(source, "load", tenants, days, rows);
        output.WriteLine($"{tenants} sources created in {watch.Elapsed.TotalSeconds:0.0} s");
        using var wh = await WarehouseScenario.StartAsync(server);
        AddTenants(wh, source, specs);

        using var sampling = new CancellationTokenSource();
        var sourcePeak = SamplePeakAsync(source.ConnectionString(), "SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'load_reader'", sampling.Token);
        var warehousePeak = SamplePeakAsync(wh.SuperuserConnectionString,
            $"SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'whadmin' AND datname = '{wh.Database}'", sampling.Token);
        watch.Restart();
        var run = wh.Run($"Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-{days - 1}))");
        var elapsed = watch.Elapsed;
        await sampling.CancelAsync();
        var (sourceMax, sourceSamples) = await sourcePeak;
        var (warehouseMax, _) = await warehousePeak;
        output.WriteLine($"{tenants * days} days in {elapsed.TotalSeconds:0.0} s; peak source backends {sourceMax} ({sourceSamples} samples), peak warehouse sessions of whadmin {warehouseMax}");

        Assert.True(run.Succeeded, string.Join(" | ", run.AllErrors.Take(5)));
        var results = run.All<WhMvResult>();
        Assert.Equal(tenants * days, results.Count);
        Assert.DoesNotContain(results, d => d.Action == MvAction.Failed);
        Assert.Equal(tenants * days * (long)rows, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        var freshness = wh.Run("Get-WhMvFreshness").All<WhMvFreshness>();
        Assert.Equal(tenants, freshness.Count);
        Assert.All(freshness, f => Assert.Equal(FreshnessStatus.Fresh, f.Status));

        Assert.InRange(sourceMax, 1, throttle);
        // Workers + the pipeline's own connection; the hosted shell's session default adds none while idle in the pool.
        Assert.InRange(warehouseMax, 1, throttle + 1);
        // The workers closed their kept source connections before handing their sessions back to the pool.
        Assert.Equal(0, await SqlKit.ScalarAsync<int>(source.ConnectionString(), "SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'load_reader'"));
    }

    [Fact]
    public async Task A_source_that_refuses_connections_for_a_moment_is_retried_and_every_day_loads()
    {
        using var source = StartSourceServer();
        var specs = await CreateSourcesAsync(source, "busy", 2, 3, 5);
        using var wh = await WarehouseScenario.StartAsync(server);
        AddTenants(wh, source, specs);

        await using var filler = await FillSlotsAsync(source, free: 0);
        var refusals = RefusalCount(source);
        var run = Task.Run(() => wh.Run("Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-2)) -Verbose"));
        // Released once a worker (not only the headroom probe at planning) has been refused.
        await SourceFaultTests.WaitUntilAsync(() => Task.FromResult(RefusalCount(source) >= refusals + 2), 30);
        await filler.DisposeAsync();
        var result = await run;

        Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
        var days = result.All<WhMvResult>();
        Assert.Equal(6, days.Count);
        Assert.All(days, d => Assert.Equal(MvAction.Created, d.Action));
        Assert.Contains(result.Verbose, v => v.Message.Contains("transient error, trying again"));
        Assert.Contains(result.Verbose, v => v.Message.Contains("Could not read the free connection slots"));
        Assert.Equal(6 * 5L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE action = 'failed'"));
    }

    [Fact]
    public async Task The_SQL_day_function_of_windows_and_scheduled_jobs_retries_a_refused_source_and_logs_each_retry_but_not_a_permanent_error()
    {
        using var source = StartSourceServer();
        var specs = await CreateSourcesAsync(source, "sqlretry", 1, 2, 5);
        using var wh = await WarehouseScenario.StartAsync(server);
        AddTenants(wh, source, specs);
        const string day = "SELECT _wh.update_mv_day_isolated('foodlogstats', 'sqlretry_01', 'sqlretry_01', current_date - @offset, true, false)::text";

        string refused;
        await using (var filler = await FillSlotsAsync(source, free: 0))
        {
            var refusals = RefusalCount(source);
            var run = Task.Run(async () =>
            {
                await using var db = await server.OpenAsync(wh.Database, "whadmin");
                await using var command = new NpgsqlCommand(day, db);
                command.Parameters.AddWithValue("offset", 1);
                return (string)(await command.ExecuteScalarAsync())!;
            });
            await SourceFaultTests.WaitUntilAsync(() => Task.FromResult(RefusalCount(source) > refusals), 30);
            await filler.DisposeAsync();
            refused = await run;
        }
        Assert.Contains("\"action\": \"created\"", refused);
        var retried = await wh.ScalarAsync<string>("SELECT string_agg(error, ' | ') FROM _wh.run_log WHERE action = 'retried' AND target_date = current_date - 1");
        Assert.NotNull(retried);
        Assert.Contains("attempt 1 of 4", retried);
        Assert.Contains("remaining connection slots are reserved", retried);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE action = 'failed'"));
        Assert.Equal(5L, await wh.ScalarAsync<long>("SELECT count(*) FROM sqlretry_01.foodlogstats_" + Today.AddDays(-1).ToString("yyyy_MM_dd")));

        await SqlKit.ExecAsync(source.ConnectionString(specs[0].Database), "REVOKE SELECT ON phood_foodlogsum FROM sqlretry_reader");
        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var command = new NpgsqlCommand(day, db))
        {
            command.Parameters.AddWithValue("offset", 0);
            var denied = (string)(await command.ExecuteScalarAsync())!;
            Assert.Contains("\"action\": \"failed\"", denied);
            Assert.Contains("permission denied", denied);
            Assert.DoesNotContain("attempts", denied);
        }
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE action = 'retried' AND target_date = current_date"));
        Assert.Equal(1, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE action = 'failed' AND target_date = current_date"));
    }

    [Fact]
    public async Task A_warehouse_that_refuses_connections_for_a_moment_is_retried_by_the_module()
    {
        // Warehouse and source in one small cluster: while it is full, the workers' own connections and their dblink
        // connections are refused ("sorry, too many clients already").
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false, ExtraSettings = ["max_connections = 20"] });
        var spec = (await CreateSourcesAsync(cluster, "full", 1, 3, 5))[0];
        using var shell = new HostedPowerShell();
        var setup = shell.Run(
            """
            Connect-WhWarehouse -ConnectionString $cs | Out-Null
            Install-WhWarehouse -WhadminCredential $wc -Confirm:$false -WarningAction SilentlyContinue | Out-Null
            Connect-WhWarehouse -ConnectionString $whadmin | Out-Null
            New-WhTenant -Name full_01 -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c | Out-Null
            """,
            new Dictionary<string, object?>
            {
                ["cs"] = cluster.ConnectionString(), ["h"] = cluster.Host,
                ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
                ["whadmin"] = cluster.ConnectionString("postgres", "whadmin", PostgresServer.WhadminPassword), ["p"] = cluster.Port, ["d"] = spec.Database,
                ["c"] = WarehouseScenario.Credential(spec.ReaderUser, spec.ReaderPassword),
            });
        Assert.True(setup.Succeeded, string.Join(" | ", setup.AllErrors));

        var filler = new ConnectionFiller();
        var builder = new NpgsqlConnectionStringBuilder(cluster.ConnectionString()) { Pooling = false };
        while (true)
        {
            var connection = new NpgsqlConnection(builder.ConnectionString);
            try { await connection.OpenAsync(); }
            catch (PostgresException error) when (error.SqlState == "53300") { await connection.DisposeAsync(); break; }
            filler.Connections.Add(connection);
        }
        // The module's idle pooled session plans the run (its headroom probes may be refused too); the slots stay full
        // until a worker's refusal has been retried, as the module reports it, and only then are they released.
        static bool WorkerRetried(string message) => message.Contains("transient error, trying again") && message.Contains("too many clients");
        var run = shell.Start("Invoke-WhMvBackfill full_01 -Template foodlogstats -From $from -Verbose",
            new Dictionary<string, object?> { ["from"] = WarehouseClock.Today(cluster.ConnectionString()).AddDays(-2).ToDateTime(TimeOnly.MinValue) });
        await SourceFaultTests.WaitUntilAsync(() => Task.FromResult(run.VerboseSoFar().Any(WorkerRetried) || run.Result.IsCompleted), 30);
        await filler.DisposeAsync();
        var result = await run.Result;

        Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
        Assert.All(result.All<WhMvResult>(), d => Assert.Equal(MvAction.Created, d.Action));
        Assert.Equal(3, result.All<WhMvResult>().Count);
        Assert.Contains(result.Verbose, v => WorkerRetried(v.Message));
    }

    [Fact]
    public async Task A_permanent_source_error_fails_the_day_at_once_without_retries()
    {
        using var source = StartSourceServer();
        var specs = await CreateSourcesAsync(source, "denied", 1, 2, 5);
        using var wh = await WarehouseScenario.StartAsync(server);
        AddTenants(wh, source, specs);
        await SqlKit.ExecAsync(source.ConnectionString(specs[0].Database), "REVOKE SELECT ON phood_foodlogsum FROM denied_reader");

        var result = wh.Run("Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-1)) -Verbose");

        var days = result.All<WhMvResult>();
        Assert.Equal(2, days.Count);
        Assert.All(days, d => Assert.Equal(MvAction.Failed, d.Action));
        Assert.All(days, d => Assert.Contains("permission denied", d.Error));
        Assert.All(days, d => Assert.DoesNotContain("attempts", d.Error));
        Assert.DoesNotContain(result.Verbose, v => v.Message.Contains("transient error"));
        // At once: neither the module nor the SQL day function tried again (each retry is in the run log).
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE action = 'retried'"));
    }

    [Fact]
    public async Task A_backfill_warns_before_the_work_when_the_source_server_has_too_few_free_slots_for_the_throttle()
    {
        using var source = StartSourceServer();
        var specs = await CreateSourcesAsync(source, "tight", 3, 2, 5);
        using var wh = await WarehouseScenario.StartAsync(server);
        AddTenants(wh, source, specs);
        await using var filler = await FillSlotsAsync(source, free: 2);

        var before = await wh.SnapshotAsync();
        var result = wh.Run("Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ($WarehouseToday.AddDays(-1)) -WhatIf");

        result.AssertSucceeded();
        Assert.Equal([$"Load 6 missing day(s) of foodlogstats and refresh today/yesterday where they exist, {Today.AddDays(-1):yyyy-MM-dd} .. {Today:yyyy-MM-dd} | tight_01, tight_02, tight_03"],
            result.WhatIf);
        var warning = Assert.Single(result.Warnings, w => w.Message.Contains("The source server"));
        Assert.Contains($"{source.Host}:{source.Port}", warning.Message);
        Assert.Contains("opens up to 3 at once", warning.Message);
        Assert.Contains("has 2 free connection slots", warning.Message);
        Assert.Contains("Lower -ThrottleLimit to 2", warning.Message);
        Assert.Contains("max_connections", warning.Message);
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task Get_WhHealth_counts_the_source_connections_that_warehouse_sessions_keep()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 5);
        wh.AddTenant("kept_one", source);
        await wh.ScalarAsync<int>("UPDATE _wh.warehouse_info SET value = '1' WHERE key = 'compact_after_days' RETURNING 1", "whadmin");
        var load = wh.Run("Invoke-WhMvBackfill kept_one -Template foodlogstats -From ($WarehouseToday.AddDays(-3))");
        Assert.True(load.Succeeded, string.Join(" | ", load.AllErrors));
        Assert.Contains("0 keep a source connection", Connections(wh).Value);

        // A DBA's session (or a pooled one) that reloaded a closed day keeps its connection to the source.
        await using (var session = await server.OpenAsync(wh.Database, "whadmin"))
        {
            await using (var command = new NpgsqlCommand("SELECT _wh.update_mv_by_template('foodlogstats', 'kept_one', 'kept_one', current_date - 3, force => true)", session))
                await command.ExecuteNonQueryAsync();
            var check = Connections(wh);
            Assert.Contains("1 keep a source connection", check.Value);
            Assert.Contains("wh_kept_one", check.Message);
        }
        NpgsqlConnection.ClearAllPools();
        await SourceFaultTests.WaitUntilAsync(() => Task.FromResult(Connections(wh).Value.Contains("0 keep a source connection")), 10);
    }

    private static PhoodWarehouse.Core.Health.WhHealthCheck Connections(WarehouseScenario wh)
    {
        var result = wh.Run("Get-WhHealth -Check Connections");
        Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
        return result.Single<PhoodWarehouse.Core.Health.WhHealthCheck>();
    }

    private static LocalPostgresCluster StartSourceServer() =>
        LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false, ExtraSettings = ["max_connections = 30"] });

    private static async Task<List<SampleTenantSourceSpec>> CreateSourcesAsync(LocalPostgresCluster source, string prefix, int count, int days, int rows)
    {
        var today = WarehouseClock.ServerToday(source.ConnectionString());
        var specs = Enumerable.Range(1, count).Select(i => new SampleTenantSourceSpec
        {
            Database = $"{prefix}_src_{i:00}", ReaderUser = $"{prefix}_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = today.AddDays(-(days - 1)), Days = days, RowsPerDay = rows, Seed = i,
        }).ToList();
        foreach (var spec in specs) await SampleTenantSource.CreateAsync(source.ConnectionString(), spec);
        return specs;
    }

    private static void AddTenants(WarehouseScenario wh, LocalPostgresCluster source, IReadOnlyList<SampleTenantSourceSpec> specs)
    {
        var result = wh.Run(
            """
            foreach ($d in $databases) {
                New-WhTenant -Name ($d -replace '_src_', '_') -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c | Out-Null
            }
            """,
            new Dictionary<string, object?>
            {
                ["databases"] = specs.Select(s => s.Database).ToArray(), ["h"] = source.Host, ["p"] = source.Port,
                ["c"] = WarehouseScenario.Credential(specs[0].ReaderUser, specs[0].ReaderPassword),
            });
        Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
    }

    /// <summary>
    /// Idle connections (as a login of their own) on every slot a non-superuser may take, less <paramref name="free"/>:
    /// opened until the server refuses one, then <paramref name="free"/> of them closed. Disposing releases the rest.
    /// </summary>
    private static async Task<ConnectionFiller> FillSlotsAsync(LocalPostgresCluster source, int free)
    {
        await SqlKit.ExecAsync(source.ConnectionString(),
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'filler') THEN CREATE ROLE filler LOGIN PASSWORD 'filler pw'; END IF; END $$");
        var filler = new ConnectionFiller();
        var builder = new NpgsqlConnectionStringBuilder(source.ConnectionString()) { Username = "filler", Password = "filler pw", Pooling = false };
        while (true)
        {
            var connection = new NpgsqlConnection(builder.ConnectionString);
            try
            {
                await connection.OpenAsync();
            }
            catch (PostgresException error) when (error.SqlState == "53300")
            {
                await connection.DisposeAsync();
                break;
            }
            filler.Connections.Add(connection);
        }
        for (var i = 0; i < free; i++)
        {
            await filler.Connections[^1].DisposeAsync();
            filler.Connections.RemoveAt(filler.Connections.Count - 1);
        }
        await Task.Delay(200); // the closed backends leave pg_stat_activity
        return filler;
    }

    private sealed class ConnectionFiller : IAsyncDisposable
    {
        public List<NpgsqlConnection> Connections { get; } = [];

        public async ValueTask DisposeAsync()
        {
            foreach (var connection in Connections) await connection.DisposeAsync();
            Connections.Clear();
        }
    }

    /// <summary>Connections the source refused for want of a slot, as its server log tells.</summary>
    private static int RefusalCount(LocalPostgresCluster source)
    {
        using var stream = new FileStream(source.LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        return text.Split('\n').Count(l => l.Contains("remaining connection slots are reserved") || l.Contains("sorry, too many clients"));
    }

    /// <summary>The highest value <paramref name="sql"/> returned, sampled every few milliseconds until cancelled.</summary>
    private static async Task<(int Max, int Samples)> SamplePeakAsync(string connectionString, string sql, CancellationToken stop)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var db = new NpgsqlConnection(builder.ConnectionString);
        await db.OpenAsync(CancellationToken.None);
        await using var command = new NpgsqlCommand(sql, db);
        var (max, samples) = (0, 0);
        while (!stop.IsCancellationRequested)
        {
            max = Math.Max(max, (int)(await command.ExecuteScalarAsync(CancellationToken.None))!);
            samples++;
            try { await Task.Delay(5, stop); } catch (OperationCanceledException) { }
        }
        return (max, samples);
    }
}
