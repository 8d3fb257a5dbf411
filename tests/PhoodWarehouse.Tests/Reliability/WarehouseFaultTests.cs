namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// The warehouse connection is killed (pg_terminate_backend) in the middle of each kind of change:
/// nothing is left half done, and running the same command again finishes the job.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class WarehouseFaultTests(PostgresServer server)
{
    [Fact]
    public async Task Killed_while_creating_a_day_leaves_no_view_and_a_rerun_creates_it()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 10);
        wh.AddTenant("kf_create", source);
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 5);

        var run = Task.Run(() => wh.Run("Update-WhMv kf_create foodlogstats -Confirm:$false"));
        await KillAsync(wh, "update_mv_by_template");
        var result = await run;

        Assert.Equal(MvAction.Failed, result.Single<WhMvResult>().Action);
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'kf_create'"));
        await SourceFaultTests.AssertNoOrphansAsync(wh, "kf_create");

        await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        var rerun = wh.Run("Update-WhMv kf_create foodlogstats -Confirm:$false");
        Assert.Equal(MvAction.Created, rerun.Single<WhMvResult>().Action);
        Assert.Equal(10L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task Killed_while_refreshing_today_keeps_the_old_rows_and_a_rerun_refreshes()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 10);
        wh.AddTenant("kf_refresh", source, "-BackfillFrom ($WarehouseToday)");
        await using (var db = await server.OpenAsync(source.Database))
        await using (var add = new NpgsqlCommand("INSERT INTO phood_foodlogsum (id, logged_time, weight) VALUES (999999, current_date + time '23:59', 1)", db))
            await add.ExecuteNonQueryAsync();
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 5);

        var run = Task.Run(() => wh.Run("Update-WhMv kf_refresh foodlogstats -Confirm:$false"));
        await KillAsync(wh, "update_mv_by_template");
        Assert.Equal(MvAction.Failed, (await run).Single<WhMvResult>().Action);
        Assert.Equal(10L, await wh.ScalarAsync<long>("SELECT count(*) FROM kf_refresh.foodlogstats", "phood_ro"));

        await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        Assert.Equal(MvAction.Refreshed, wh.Run("Update-WhMv kf_refresh foodlogstats -Confirm:$false").Single<WhMvResult>().Action);
        Assert.Equal(11L, await wh.ScalarAsync<long>("SELECT count(*) FROM kf_refresh.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task A_reader_holding_the_union_views_no_longer_holds_up_a_backfill_whose_days_are_rows()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 10);
        wh.AddTenant("kf_union", source, "-BackfillFrom ($WarehouseToday)");

        // A reader holds the tenant and public views (until 2.1.0 the backfill's view rebuild waited for it, and was killed
        // there in this test). A new day is now rows of kf_union.foodlogstats_recent: nothing waits, nothing is rebuilt.
        await using var reader = await server.OpenAsync(wh.Database);
        await using var hold = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", reader, hold)) await read.ExecuteScalarAsync();
        var definition = await wh.ScalarAsync<string>("SELECT pg_get_viewdef('kf_union.foodlogstats'::regclass)");
        var run = wh.Run("Invoke-WhMvBackfill kf_union -Template foodlogstats -From ($WarehouseToday.AddDays(-1))");
        Assert.True(run.Succeeded, string.Join(" | ", run.AllErrors));
        Assert.DoesNotContain(run.Warnings, w => w.Message.Contains("Could not"));
        Assert.Equal(20L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
        Assert.Equal(definition, await wh.ScalarAsync<string>("SELECT pg_get_viewdef('kf_union.foodlogstats'::regclass)"));
        await hold.RollbackAsync();
    }

    [Fact]
    public async Task Killed_while_removing_a_tenant_leaves_it_whole_and_a_rerun_removes_it()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 10);
        wh.AddTenant("kf_remove", source, "-BackfillFrom ($WarehouseToday.AddDays(-1))");
        var before = await wh.SnapshotAsync();

        await using var reader = await server.OpenAsync(wh.Database);
        await using var hold = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM kf_remove.foodlogstats", reader, hold)) await read.ExecuteScalarAsync();
        var run = Task.Run(() => wh.Run("Remove-WhTenant kf_remove -Confirm:$false"));
        await KillAsync(wh, "remove_tenant");
        var result = await run;
        await hold.RollbackAsync();

        Assert.False(result.Succeeded);
        Assert.Equal(before, await wh.SnapshotAsync());

        var rerun = wh.Run("Remove-WhTenant kf_remove -Confirm:$false");
        Assert.True(rerun.Succeeded, string.Join(" | ", rerun.AllErrors));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_namespace WHERE nspname = 'kf_remove'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    /// <summary>Waits until a warehouse backend runs a statement containing <paramref name="marker"/>, then terminates it.</summary>
    private async Task KillAsync(WarehouseScenario wh, string marker)
    {
        await using var admin = await server.OpenAsync(wh.Database);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%' || @m || '%' AND state = 'active'",
                admin);
            kill.Parameters.AddWithValue("m", marker);
            if ((long)(await kill.ExecuteScalarAsync())! > 0) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no backend ran {marker} within 30 s");
    }
}
