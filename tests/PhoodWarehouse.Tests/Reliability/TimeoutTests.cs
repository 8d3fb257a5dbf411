namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Finding 3 of docs/security.md: nothing waits forever. A slow source query stops at the source's statement_timeout,
/// a module statement at its command timeout, tenant removal and view changes at lock_timeout; each with a clear
/// error and nothing half done.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class TimeoutTests(PostgresServer server)
{
    private static async Task AsWhadminAsync(WarehouseScenario wh, string sql)
    {
        await using var db = await wh.Server.OpenAsync(wh.Database, "whadmin");
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    private Dictionary<string, object?> Today => new() { ["day"] = WarehouseClock.ServerToday(server.ConnectionString()).ToDateTime(TimeOnly.MinValue) };

    [Fact]
    public async Task A_slow_source_query_stops_at_source_statement_timeout_and_the_day_is_not_created()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("slow_remote", source);
        await AsWhadminAsync(wh,
            "UPDATE _wh.warehouse_info SET value = '1s' WHERE key = 'source_statement_timeout'; SELECT _wh.sync_foreign_servers();");
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 5);
        try
        {
            var before = await wh.SnapshotAsync();
            var started = DateTime.UtcNow;
            var result = wh.Run("Update-WhMv slow_remote foodlogstats -Date $day -Confirm:$false", Today);
            Assert.NotNull(result.FirstError);
            Assert.Contains("statement timeout", result.FirstError!.ToString());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(4.5), "the source's statement_timeout (1 s) stopped the query, not the 5 s wait");
            // Nothing changed but the run log's record of the failed day.
            Assert.Equal(CatalogSnapshot.WithoutRunLog(before), CatalogSnapshot.WithoutRunLog(await wh.SnapshotAsync()));
            Assert.Equal(1, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE tenant_schema = 'slow_remote' AND action = 'failed'"));
        }
        finally
        {
            await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        }
    }

    [Fact]
    public async Task The_module_command_timeout_cancels_a_long_statement_with_a_clear_error_and_the_session_goes_on()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("slow_module", source);
        await SlowSource.MakeSlowAsync(server.ConnectionString(source.Database), source.ReaderUser, 4);
        try
        {
            var before = await wh.SnapshotAsync();
            var variables = Today;
            variables["cs"] = server.ConnectionString(wh.Database, "whadmin");
            var result = wh.Run("Connect-WhWarehouse -ConnectionString $cs -CommandTimeout 1 | Out-Null; Update-WhMv slow_module foodlogstats -Date $day -Confirm:$false", variables);
            // One failed day among the days asked for: DayFailed, with the command timeout as the reason.
            result.AssertError("DayFailed");
            Assert.Contains("command timeout", result.FirstError!.ToString());
            Assert.Contains("-CommandTimeout", result.FirstError!.ToString());
            // Nothing changed but the run log's record of the failed day.
            Assert.Equal(CatalogSnapshot.WithoutRunLog(before), CatalogSnapshot.WithoutRunLog(await wh.SnapshotAsync()));
            Assert.Equal(1, await wh.ScalarAsync<int>("SELECT count(*)::int FROM _wh.run_log WHERE tenant_schema = 'slow_module' AND action = 'failed'"));
            Assert.True(wh.Run("Get-WhTenant slow_module").Succeeded);
        }
        finally
        {
            await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        }
    }

    [Fact]
    public async Task Tenant_removal_and_view_changes_wait_at_most_lock_timeout_behind_a_reader_and_change_nothing()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("locked", source);
        Assert.True(wh.Run("Invoke-WhMvBackfill locked -Template foodlogstats -From $day -Confirm:$false",
            new Dictionary<string, object?> { ["day"] = WarehouseClock.ServerToday(server.ConnectionString()).AddDays(-1).ToDateTime(TimeOnly.MinValue) }).Succeeded);
        await AsWhadminAsync(wh, "UPDATE _wh.warehouse_info SET value = '1s' WHERE key = 'lock_timeout'");

        // A BI query in progress: its transaction holds the public view, the tenant view and the daily views.
        await using var bi = await server.OpenAsync(wh.Database, "phood_ro");
        await using var reading = await bi.BeginTransactionAsync();
        await using (var query = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", bi, reading))
            await query.ExecuteScalarAsync();

        var before = await wh.SnapshotAsync();
        var started = DateTime.UtcNow;
        var result = wh.Run("Remove-WhTenant locked -Confirm:$false");
        result.AssertError("LockTimeout");
        Assert.Contains("nothing was changed", result.FirstError!.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "Remove-WhTenant");
        Assert.Equal(before, await wh.SnapshotAsync());
        // Since 2.1.0 an unchanged view is not re-created: Update-WhUnionView neither waits for the reader nor changes anything.
        var union = wh.Run("Update-WhUnionView locked foodlogstats -Confirm:$false");
        Assert.True(union.Succeeded, string.Join("; ", union.AllErrors));
        Assert.Equal(before, await wh.SnapshotAsync());
        Assert.Equal("locked", wh.Run("Get-WhTenant locked").Single<WhTenant>().Name);

        await reading.CommitAsync();
        var removed = wh.Run("Remove-WhTenant locked -Confirm:$false");
        Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
    }
}
