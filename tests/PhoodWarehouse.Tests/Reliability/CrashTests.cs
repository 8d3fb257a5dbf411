namespace PhoodWarehouse.Tests.Reliability;

/// <summary>A cluster of its own with durability on (fsync, synchronous commits, full pages), which the crash tests stop hard.</summary>
public sealed class DurableServer : PostgresServer
{
    protected override LocalPostgresCluster? StartOwnCluster() => LocalPostgresCluster.Start(new LocalClusterOptions
    {
        PreloadPgCron = false,
        // Later lines win over the throwaway cluster's fsync = off.
        ExtraSettings = ["fsync = on", "synchronous_commit = on", "full_page_writes = on"],
    });
}

/// <summary>
/// Issue 27, item 10: the warehouse crashes (pg_ctl -m immediate, fsync on) in the middle of a backfill, the scheduled
/// refresh, compaction, a repair, a psql upgrade and an Install-WhWarehouse upgrade. After the restart nothing is partial: every day there
/// equals its source, the views read, an upgrade is either the old release whole or the new one; and a re-run finishes.
/// The backfill ends with one terminating error (WarehouseLost), not an error per day left.
/// </summary>
public sealed class CrashTests(DurableServer server) : IClassFixture<DurableServer>, IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-crash-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task A_crash_in_the_middle_of_a_backfill_leaves_every_day_whole_and_a_rerun_finishes()
    {
        var source = await server.CreateTenantSourceAsync(days: 40, rowsPerDay: 2000);
        var database = await server.CreateWarehouseAsync();
        var from = source.FirstDay.ToDateTime(TimeOnly.MinValue);
        ScriptResult crashed;
        using (var shell = new HostedPowerShell())
        {
            var variables = WarehouseScenario.SourceVariables(source);
            variables["cs"] = server.ConnectionString(database, "whadmin");
            variables["from"] = from;
            shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).AssertSucceeded();
            Assert.True(shell.Run("New-WhTenant -Name crash_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false", variables).Succeeded);
            var running = shell.Start("Invoke-WhMvBackfill -Tenant crash_a -Template foodlogstats -From $from -ThrottleLimit 2", variables);
            try
            {
                // Crash once some days are in, while others are being built.
                for (var i = 0; i < 500 && await CountAsync(database, "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = 'crash_a' AND action IN ('created', 'refreshed')") < 3; i++)
                    await Task.Delay(10);
                server.Cluster!.Stop();
                crashed = await running.Result;
            }
            finally
            {
                NpgsqlConnection.ClearAllPools();
                server.Cluster!.Restart();
            }
        }
        // One terminating error for the run, not one per day left; no day reported Failed for the crash.
        var done = crashed.All<WhMvResult>();
        Assert.True(done.Count < 40, "the crash came after the backfill had finished: nothing was tested");
        var errors = crashed.AllErrors.ToList();
        Assert.True(errors.Count == 1 && errors[0].FullyQualifiedErrorId.StartsWith("WarehouseLost", StringComparison.Ordinal),
            $"{done.Count} results ({string.Join(", ", done.GroupBy(r => r.Action).Select(g => $"{g.Count()} {g.Key}"))}); " +
            $"errors: {string.Join(" | ", errors.Select(e => e.FullyQualifiedErrorId))}");
        Assert.Contains("run the same command again", errors[0].ToString());
        Assert.DoesNotContain(done, r => r.Action == MvAction.Failed);

        using var wh = await WarehouseScenario.StartAsync(server, database);
        var window = new Dictionary<string, object?> { ["f"] = from };
        var after = wh.Run("Test-WhMv -Tenant crash_a -Template foodlogstats -From $f", window);
        Assert.True(after.Succeeded, string.Join("; ", after.AllErrors));
        var checks = after.All<WhMvCheck>();
        Assert.Contains(checks, c => c.Status == MvCheckStatus.Match);
        // A day is there whole or not at all: never Changed (a partial day).
        Assert.DoesNotContain(checks, c => c.Status == MvCheckStatus.Changed);
        Assert.True(await CountAsync(database, "SELECT count(*) FROM public.foodlogstats WHERE client = 'crash_a'") > 0);

        var rerun = wh.Run("Invoke-WhMvBackfill -Tenant crash_a -Template foodlogstats -From $f", window);
        Assert.True(rerun.Succeeded, string.Join("; ", rerun.AllErrors));
        var final = wh.Run("Test-WhMv -Tenant crash_a -Template foodlogstats -From $f", window).All<WhMvCheck>();
        Assert.Equal(40, final.Count);
        Assert.All(final, c => Assert.Equal(MvCheckStatus.Match, c.Status));
    }

    [Fact]
    public async Task A_crash_during_a_psql_upgrade_leaves_one_release_whole_and_a_rerun_finishes()
    {
        var database = await server.CreateDatabaseAsync("crashup");
        var release = await InstallReleaseAsync(database, "0.1.0");
        RepositoryPaths.CopySqlTree(work);
        var passwords = new Dictionary<string, string> { ["whadmin"] = PostgresServer.WhadminPassword };

        var upgrade = SqlKit.PsqlAsync(server, work, database, "whadmin", @"\i sql/functions.sql", passwords);
        // Crash while the upgrade's transaction is open (its first part creates tables; the whole script takes a while).
        for (var i = 0; i < 200 && await CountAsync(database,
                 "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND application_name = 'psql' AND state <> 'idle'") == 0; i++)
            await Task.Delay(5);
        server.Cluster!.Stop();
        await upgrade;
        NpgsqlConnection.ClearAllPools();
        server.Cluster!.Restart();

        await AssertOneReleaseWholeAsync(database, release);

        (await SqlKit.PsqlAsync(server, work, database, "whadmin", @"\i sql/functions.sql", passwords)).AssertSucceeded();
        Assert.Equal(WarehouseInstaller.TargetVersion(),
            await SqlKit.ScalarAsync<string>(server.ConnectionString(database), "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'"));
    }

    [Fact]
    public async Task A_crash_during_the_scheduled_refresh_keeps_the_old_rows_and_the_next_run_finishes()
    {
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10);
        var database = await server.CreateWarehouseAsync();
        var connection = PostgresServer.UniqueName("crash_conn");
        await using (var wh = await SqlKit.OpenAsync(server, database, "whadmin"))
        {
            await wh.AddConnectionAsync(connection, source);
            await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, 'crash_job', $2, $3)", connection, source.FirstDay, source.FirstDay.AddDays(2));
        }
        var sourceCs = server.ConnectionString(source.Database);
        await SqlKit.AddSourceRowsAsync(sourceCs, source.FirstDay.AddDays(2), 5);
        await SlowSource.MakeSlowAsync(sourceCs, source.ReaderUser, 30);
        var before = await CountAsync(database, "SELECT count(*) FROM crash_job.foodlogstats");

        var job = SqlKit.ExecAsync(server.ConnectionString(database, "whadmin"), "CALL _wh.refresh_recent_by_template('foodlogstats', '" + connection + "', 'crash_job', 7)");
        try
        {
            for (var i = 0; i < 300 && await CountAsync(database,
                     "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND query LIKE 'CALL _wh.refresh_recent_by_template%' AND state = 'active'") == 0; i++)
                await Task.Delay(10);
            await Task.Delay(300);
            server.Cluster!.Stop();
            await Assert.ThrowsAnyAsync<Exception>(() => job);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            server.Cluster!.Restart();
        }

        // The old rows, readable; no run-log row left "running"; the next run finishes the day.
        Assert.Equal(before, await CountAsync(database, "SELECT count(*) FROM crash_job.foodlogstats"));
        await SlowSource.RestoreAsync(sourceCs);
        await SqlKit.ExecAsync(server.ConnectionString(database, "whadmin"), "CALL _wh.refresh_recent_by_template('foodlogstats', '" + connection + "', 'crash_job', 7)");
        Assert.Equal(before + 5, await CountAsync(database, "SELECT count(*) FROM crash_job.foodlogstats"));
    }

    [Fact]
    public async Task A_crash_in_the_middle_of_compaction_keeps_every_day_and_a_rerun_compacts_them()
    {
        var source = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 200);
        var database = await server.CreateWarehouseAsync();
        var connection = PostgresServer.UniqueName("crash_conn");
        var today = source.FirstDay.AddDays(7);
        await using (var wh = await SqlKit.OpenAsync(server, database, "whadmin"))
        {
            await wh.AddConnectionAsync(connection, source);
            await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, 'crash_cmp', $2, $3)", connection, source.FirstDay, today);
            Assert.Equal(8L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'crash_cmp'"));
            await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days'");
        }
        var before = await CountAsync(database, "SELECT count(*) FROM crash_cmp.foodlogstats");

        // A BI reader holds the last closed day: compaction copies every closed day into the table, then waits to drop
        // that day's materialized view. The crash comes while it waits, its copies made and its transaction open.
        var held = SqlKit.ViewName("foodlogstats", today.AddDays(-2));
        var reader = await SqlKit.OpenAsync(server, database);
        await reader.ExecAsync($"BEGIN; SELECT count(*) FROM crash_cmp.{held}");
        var compaction = SqlKit.ExecAsync(server.ConnectionString(database, "whadmin"), "SELECT _wh.compact_closed_days('foodlogstats', 'crash_cmp')");
        try
        {
            for (var i = 0; i < 500 && await CountAsync(database,
                     "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND query LIKE '%compact_closed_days%' AND cardinality(pg_blocking_pids(pid)) > 0") == 0; i++)
                await Task.Delay(10);
            Assert.False(compaction.IsCompleted, "compaction did not wait on the reader: nothing was tested");
            server.Cluster!.Stop();
            await Assert.ThrowsAnyAsync<Exception>(() => compaction);
        }
        finally
        {
            await reader.DisposeAsync().AsTask().ContinueWith(_ => { });
            NpgsqlConnection.ClearAllPools();
            server.Cluster!.Restart();
        }

        // Rolled back whole: every day still its materialized view, nothing in the table, the same rows in the view.
        Assert.Equal(8L, await CountAsync(database, "SELECT count(*) FROM pg_matviews WHERE schemaname = 'crash_cmp'"));
        Assert.Equal(0L, await CountAsync(database,
            "SELECT CASE WHEN to_regclass('crash_cmp.foodlogstats_closed') IS NULL THEN 0 ELSE (SELECT count(*) FROM crash_cmp.foodlogstats_closed) END"));
        Assert.Equal(before, await CountAsync(database, "SELECT count(*) FROM crash_cmp.foodlogstats"));

        // Again: the closed days are compacted, and every day equals its source.
        await SqlKit.ExecAsync(server.ConnectionString(database, "whadmin"), "SELECT _wh.compact_closed_days('foodlogstats', 'crash_cmp')");
        Assert.Equal(2L, await CountAsync(database, "SELECT count(*) FROM pg_matviews WHERE schemaname = 'crash_cmp'"));
        Assert.Equal(before, await CountAsync(database, "SELECT count(*) FROM crash_cmp.foodlogstats"));
        using var shell = await WarehouseScenario.StartAsync(server, database);
        var checks = shell.Run("Test-WhMv -Tenant crash_cmp -Template foodlogstats -From $f",
            new Dictionary<string, object?> { ["f"] = source.FirstDay.ToDateTime(TimeOnly.MinValue) }).All<WhMvCheck>();
        Assert.Equal(8, checks.Count);
        Assert.All(checks, c => Assert.Equal(MvCheckStatus.Match, c.Status));
    }

    [Fact]
    public async Task A_crash_in_the_middle_of_a_repair_keeps_the_old_rows_and_a_rerun_repairs_every_day()
    {
        var source = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 50);
        var database = await server.CreateWarehouseAsync();
        var sourceCs = server.ConnectionString(source.Database);
        var window = new Dictionary<string, object?> { ["f"] = source.FirstDay.ToDateTime(TimeOnly.MinValue) };
        using var wh = await WarehouseScenario.StartAsync(server, database);
        var variables = WarehouseScenario.SourceVariables(source);
        variables["f"] = window["f"];
        wh.Run("New-WhTenant -Name crash_rep -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -BackfillFrom $f -Confirm:$false", variables)
            .AssertSucceeded();
        // Two closed days change at the source; the check finds them.
        await SqlKit.AddSourceRowsAsync(sourceCs, source.FirstDay.AddDays(1), 7);
        await SqlKit.AddSourceRowsAsync(sourceCs, source.FirstDay.AddDays(2), 7);
        var checks = wh.Run("$checks = Test-WhMv -Tenant crash_rep -Template foodlogstats -From $f; $checks", window).All<WhMvCheck>();
        Assert.Equal(2, checks.Count(c => c.Status == MvCheckStatus.Changed));
        var before = await CountAsync(database, "SELECT count(*) FROM crash_rep.foodlogstats");

        // The source slows down: the repair's first day is in flight at the source when the warehouse crashes.
        await SlowSource.MakeSlowAsync(sourceCs, source.ReaderUser, 30);
        var running = wh.Shell.Start("$checks | Repair-WhMv -Confirm:$false");
        ScriptResult crashed;
        try
        {
            for (var i = 0; i < 500 && await CountAsync(database,
                     "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND query LIKE '%update_mv_by_template%' AND state = 'active'") == 0; i++)
                await Task.Delay(10);
            await Task.Delay(200);
            server.Cluster!.Stop();
            crashed = await running.Result;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            server.Cluster!.Restart();
        }
        Assert.False(crashed.Succeeded, "the repair finished before the crash: nothing was tested");
        Assert.Single(crashed.AllErrors);

        // Nothing partial: the changed days keep their old rows (still Changed), the others Match.
        await SlowSource.RestoreAsync(sourceCs);
        using var after = await WarehouseScenario.StartAsync(server, database);
        Assert.Equal(before, await CountAsync(database, "SELECT count(*) FROM crash_rep.foodlogstats"));
        var found = after.Run("Test-WhMv -Tenant crash_rep -Template foodlogstats -From $f", window).All<WhMvCheck>();
        Assert.Equal(2, found.Count(c => c.Status == MvCheckStatus.Changed));
        Assert.Equal(4, found.Count(c => c.Status == MvCheckStatus.Match));
        // The catalog still knows both days differ (the scheduled refresh repairs such days on its next run).
        Assert.Equal(2L, await CountAsync(database, "SELECT count(*) FROM _wh.day_state WHERE schema_name = 'crash_rep' AND check_status = 'Changed'"));

        // Again: both days repaired, every day equal to its source.
        after.Run("Test-WhMv -Tenant crash_rep -Template foodlogstats -From $f | Repair-WhMv -Confirm:$false", window).AssertSucceeded();
        var final = after.Run("Test-WhMv -Tenant crash_rep -Template foodlogstats -From $f", window).All<WhMvCheck>();
        Assert.Equal(6, final.Count);
        Assert.All(final, c => Assert.Equal(MvCheckStatus.Match, c.Status));
        Assert.Equal(before + 14, await CountAsync(database, "SELECT count(*) FROM crash_rep.foodlogstats"));
    }

    [Fact]
    public async Task A_crash_during_an_Install_WhWarehouse_upgrade_leaves_one_release_whole_and_a_rerun_finishes()
    {
        var database = await server.CreateDatabaseAsync("crashinst");
        var release = await InstallReleaseAsync(database, "0.1.0");

        Task<WhInstallResult> Upgrade() => Task.Run(async () =>
        {
            using var whadmin = await WarehouseConnector.ConnectAsync(
                new ConnectionRequest { ConnectionString = server.ConnectionString(database, "whadmin") }, NullLogger.Instance, default);
            var installer = new WarehouseInstaller(whadmin, NullLogger.Instance);
            return await installer.InstallAsync(await installer.PlanAsync(default), default);
        });
        var upgrade = Upgrade();
        for (var i = 0; i < 200 && await CountAsync(database,
                 "SELECT count(*) FROM pg_stat_activity WHERE usename = 'whadmin' AND state = 'active' AND query LIKE '%_wh%'") == 0; i++)
            await Task.Delay(5);
        server.Cluster!.Stop();
        try { await upgrade; } catch (Exception) { /* the crash */ }
        NpgsqlConnection.ClearAllPools();
        server.Cluster!.Restart();

        await AssertOneReleaseWholeAsync(database, release);
        var finished = await Upgrade();
        Assert.Contains(finished.Action, new[] { "Upgraded", "UpToDate" });
        Assert.Equal(WarehouseInstaller.TargetVersion(),
            await SqlKit.ScalarAsync<string>(server.ConnectionString(database), "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'"));
    }

    /// <summary>A frozen release installed the way it did it, and the test passwords set.</summary>
    private async Task<Upgrade.FrozenRelease> InstallReleaseAsync(string database, string version)
    {
        var release = new Upgrade.FrozenRelease(version);
        await release.InstallAsync(server.ConnectionString(database), server.ConnectionString(database, "whadmin"),
            PostgresServer.WhadminPassword, PostgresServer.PhoodRoPassword);
        await server.SetRolePasswordsAsync();
        return release;
    }

    /// <summary>One release whole after a crashed upgrade: the old one without the new routines, or the new one with them.</summary>
    private async Task AssertOneReleaseWholeAsync(string database, Upgrade.FrozenRelease old)
    {
        var version = await SqlKit.ScalarAsync<string>(server.ConnectionString(database), "SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'");
        var routines = await CountAsync(database, "SELECT count(*) FROM pg_proc WHERE pronamespace = '_wh'::regnamespace AND proname = 'retarget_cron_jobs'");
        Assert.True((version == old.SchemaVersion && routines == 0) || (version == WarehouseInstaller.TargetVersion() && routines == 1),
            $"version {version} with {routines} new routine(s)");
    }

    private async Task<long> CountAsync(string database, string sql)
    {
        try
        {
            return await SqlKit.ScalarAsync<long>(server.ConnectionString(database), sql);
        }
        catch (NpgsqlException)
        {
            return 0;
        }
    }
}
