using System.Diagnostics;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>The process running a backfill is killed hard (SIGKILL, a separate process): a re-run completes.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class ProcessKillTests(PostgresServer server)
{
    [Fact]
    public async Task A_backfill_whose_process_is_killed_hard_is_completed_by_a_rerun()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 12, rowsPerDay: 15);
        wh.AddTenant("pk_killed", source);
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 0.5);

        var script = Path.Combine(Path.GetTempPath(), $"phoodwh-kill-{Guid.NewGuid():N}.ps1");
        File.WriteAllText(script,
            $"Import-Module '{RepositoryPaths.ModuleManifest}'\n" +
            """
            Connect-WhWarehouse -ConnectionString $env:PHOOD_KILL_CS | Out-Null
            Invoke-WhMvBackfill pk_killed -Template foodlogstats -From ([datetime]$env:PHOOD_KILL_FROM) -ThrottleLimit 2
            """);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = RepositoryPaths.Root,
        };
        // Real pwsh, pinned in .config/dotnet-tools.json (./build.sh restores it; or run dotnet tool restore).
        foreach (var argument in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-File", script }) start.ArgumentList.Add(argument);
        start.Environment["PHOOD_KILL_CS"] = server.ConnectionString(wh.Database, "whadmin");
        start.Environment["PHOOD_KILL_FROM"] = (await wh.TodayAsync()).AddDays(-11).ToString("yyyy-MM-dd");
        try
        {
            using var process = Process.Start(start)!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            await SourceFaultTests.WaitUntilAsync(async () => await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'pk_killed'") >= 3);
            process.Kill(entireProcessTree: true);    // SIGKILL: no clean-up code runs
            await process.WaitForExitAsync();
        }
        finally
        {
            File.Delete(script);
        }

        // Its sessions die with it; whatever they were building rolls back.
        await SourceFaultTests.WaitUntilAsync(async () =>
            await wh.ScalarAsync<int>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'PhoodWarehouse' AND state = 'active'") == 0);
        var kept = await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'pk_killed'");
        Assert.InRange(kept, 3, 11);
        await SourceFaultTests.AssertNoOrphansAsync(wh, "pk_killed");

        await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        var rerun = wh.Run("Invoke-WhMvBackfill pk_killed -Template foodlogstats -From ($WarehouseToday.AddDays(-11))");
        Assert.True(rerun.Succeeded, string.Join(" | ", rerun.AllErrors));
        Assert.Equal(12 - kept, rerun.All<WhMvResult>().Count(d => d.Action == MvAction.Created));
        Assert.Equal(12 * 15L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }
}
