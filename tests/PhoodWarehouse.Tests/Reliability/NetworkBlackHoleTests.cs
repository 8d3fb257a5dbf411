using System.Diagnostics;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Issue 27, item 1, the second fault: a source whose network path becomes a black hole (packets dropped in silence, in
/// a network namespace of the test's own), which unlike a frozen server (FrozenSourceTests) only TCP's timers can see.
/// In the middle of a day's query, the keepalives that follow source_tcp_user_timeout end dblink's wait (PostgreSQL 15
/// cannot interrupt it otherwise); before a session, connect_timeout does. Either way the tenant costs a bounded time,
/// is named, its other days are not tried, the healthy tenant loads, the warehouse's backends stay within
/// throttle + 1 (+1 for the unanswering source), and the scheduled refresh and Test-WhTenantConnection are bounded too.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class NetworkBlackHoleTests(PostgresServer server)
{
    [Fact]
    public async Task A_source_behind_a_black_hole_costs_its_tenant_a_bounded_time_mid_query_and_before_it_and_is_named()
    {
        using var hole = new NetworkBlackHole();
        using var sourceCluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        var today = WarehouseClock.ServerToday(server.ConnectionString());
        var spec = new SampleTenantSourceSpec
        {
            Database = "hole_src", ReaderUser = "hole_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = today.AddDays(-5), Days = 6, RowsPerDay = 5,
        };
        await SampleTenantSource.CreateAsync(sourceCluster.ConnectionString(), spec);
        hole.MoveIn(sourceCluster);
        // The test reaches the source over its unix socket: the namespace's network is not this host's.
        var sourceSocket = new NpgsqlConnectionStringBuilder(sourceCluster.ConnectionString(spec.Database))
        { Host = sourceCluster.SocketDirectory, Pooling = false }.ConnectionString;
        var healthy = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 5);

        var database = await server.CreateWarehouseAsync();
        await using (var wh = await SqlKit.OpenAsync(server, database, "whadmin"))
        {
            await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '2s' WHERE key = 'source_connect_timeout'");
            await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '4s' WHERE key = 'source_tcp_user_timeout'");
            await wh.ExecAsync("SELECT _wh.sync_foreign_servers()");
        }
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = server.ConnectionString(database, "whadmin"),
            ["from"] = today.AddDays(-5).ToDateTime(TimeOnly.MinValue),
            ["h"] = hole.RemoteAddress, ["p"] = sourceCluster.Port, ["d"] = spec.Database,
            ["c"] = WarehouseScenario.Credential(spec.ReaderUser, spec.ReaderPassword),
        };
        // A finite command timeout, so that a module that waited for the black hole would fail here, not hang.
        shell.Run("Connect-WhWarehouse -ConnectionString $cs -CommandTimeout 120 | Out-Null", variables).AssertSucceeded();
        shell.Run("New-WhTenant -Name hole_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false", variables).AssertSucceeded();
        shell.Run("New-WhTenant -Name open_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false",
            new Dictionary<string, object?>(WarehouseScenario.SourceVariables(healthy))).AssertSucceeded();

        // 1. In the middle of a day's query: the source takes 30 s a day; the path goes dark while it works.
        await SlowSource.MakeSlowAsync(sourceSocket, spec.ReaderUser, 30);
        using var sampling = new CancellationTokenSource();
        var peak = SamplePeakAsync(server.ConnectionString(database), sampling.Token);
        var clock = Stopwatch.StartNew();
        var running = shell.Start("Invoke-WhMvBackfill -Tenant open_a, hole_a -Template foodlogstats -From $from -ThrottleLimit 2 -ErrorAction SilentlyContinue", variables);
        await SourceFaultTests.WaitUntilAsync(async () => await SqlKit.ScalarAsync<long>(sourceSocket,
            $"SELECT count(*) FROM pg_stat_activity WHERE usename = '{spec.ReaderUser}' AND state = 'active'") >= 1);
        hole.Cut();
        var backfill = await running.Result;
        var tookMidQuery = clock.Elapsed;
        sampling.Cancel();
        var backends = await peak;

        Assert.True(tookMidQuery < TimeSpan.FromSeconds(25), $"the backfill took {tookMidQuery}: the dark path was not noticed before the source's 30 s");
        var results = backfill.All<WhMvResult>();
        Assert.Equal(6, results.Count(r => r.Tenant == "open_a" && r.Action == MvAction.Created));
        var dark = results.Where(r => r.Tenant == "hole_a").ToList();
        Assert.Equal(6, dark.Count);
        Assert.All(dark, r => Assert.Equal(MvAction.Failed, r.Action));
        Assert.True(dark.Count(r => r.Error!.Contains("did not answer earlier in this run")) >= 4, string.Join(" | ", dark.Select(r => r.Error)));
        Assert.Contains(backfill.Warnings, w => w.Message.Contains("hole_a") && w.Message.Contains("does not answer"));
        // Throttle 2: two workers and the pipeline's own connection, plus at most one for the unanswering source.
        Assert.True(backends <= 2 + 1 + 1, $"{backends} warehouse backends of whadmin at once");

        // 2. Before a session: the path is still dark. Test-WhTenantConnection, a backfill and the scheduled refresh
        // each end within the connect timeout's bound and name the source.
        clock.Restart();
        var test = shell.Run("Test-WhTenantConnection hole_a").Single<WhTenantConnectionTest>();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"Test-WhTenantConnection took {clock.Elapsed}");
        Assert.False(test.Success);
        Assert.Contains("does not answer", test.Error);

        clock.Restart();
        var again = shell.Run("Invoke-WhMvBackfill -Tenant hole_a -Template foodlogstats -From $from -ErrorAction SilentlyContinue", variables);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the backfill took {clock.Elapsed}");
        Assert.All(again.All<WhMvResult>(), r => Assert.Equal(MvAction.Failed, r.Action));

        var connection = await SqlKit.ScalarAsync<string>(server.ConnectionString(database), "SELECT connection_name FROM _wh.tenants WHERE schema_name = 'hole_a'");
        clock.Restart();
        var refresh = await Record.ExceptionAsync(() => SqlKit.ExecAsync(server.ConnectionString(database, "whadmin"),
            $"CALL _wh.refresh_recent_by_template('foodlogstats', '{connection}', 'hole_a', 7)"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the scheduled refresh took {clock.Elapsed}");
        Assert.NotNull(refresh);
        // Today was tried once, and its failure names the server; yesterday and the week's check wait for the next run.
        var logged = await SqlKit.ScalarAsync<string>(server.ConnectionString(database),
            "SELECT string_agg(coalesce(target_date::text, '-') || ' ' || error, ' | ' ORDER BY id) FROM _wh.run_log WHERE tenant_schema = 'hole_a' AND action = 'failed' AND application_name <> 'PhoodWarehouse'");
        Assert.True(logged.Contains(hole.RemoteAddress) && logged.Contains("timeout expired"), logged);
        Assert.StartsWith(today.ToString("yyyy-MM-dd") + " ", logged);
        Assert.DoesNotContain(" | ", logged);

        // The path back, the source well: the same backfill loads every day.
        hole.Mend();
        await SlowSource.RestoreAsync(sourceSocket);
        var mended = shell.Run("Invoke-WhMvBackfill -Tenant hole_a -Template foodlogstats -From $from", variables);
        mended.AssertSucceeded();
        Assert.Equal(6, mended.All<WhMvResult>().Count(r => r.Action is MvAction.Created or MvAction.Refreshed));
    }

    /// <summary>The most whadmin backends seen at once on the warehouse database, sampled until cancelled.</summary>
    private static async Task<long> SamplePeakAsync(string superuser, CancellationToken stop)
    {
        long peak = 0;
        await using var db = new NpgsqlConnection(superuser);
        await db.OpenAsync();
        while (!stop.IsCancellationRequested)
        {
            await using var command = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND datname = current_database()", db);
            peak = Math.Max(peak, (long)(await command.ExecuteScalarAsync())!);
            try { await Task.Delay(20, stop); } catch (OperationCanceledException) { }
        }
        return peak;
    }
}
