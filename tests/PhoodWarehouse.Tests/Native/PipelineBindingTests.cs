namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Issue 29, item 5 (in part): Get-WhTenant's objects pipe into Update-WhMv and Remove-WhMv (they failed with
/// PowerShell's generic binding error), and Get-WhMv's objects still bind by their Tenant, not their view Name.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class PipelineBindingTests(PostgresServer server)
{
    [Fact]
    public async Task Get_WhTenant_pipes_into_Update_WhMv_and_Remove_WhMv_and_Get_WhMv_still_binds_by_tenant()
    {
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 4);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("pipe_a", source, "-BackfillFrom ($WarehouseToday.AddDays(-2))");
        var today = await wh.TodayAsync("pipe_a");
        var variables = new Dictionary<string, object?>
        {
            ["today"] = today.ToDateTime(TimeOnly.MinValue), ["old"] = today.AddDays(-2).ToDateTime(TimeOnly.MinValue),
        };

        var update = wh.Run("Get-WhTenant pipe_a | Update-WhMv -Template foodlogstats -Date $today -Confirm:$false", variables);
        Assert.True(update.Succeeded, string.Join("; ", update.AllErrors));
        Assert.Equal("pipe_a", update.Single<WhMvResult>().Tenant);

        var remove = wh.Run("Get-WhTenant pipe_a | Remove-WhMv -Template foodlogstats -Date $old -Confirm:$false", variables);
        Assert.True(remove.Succeeded, string.Join("; ", remove.AllErrors));
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            $"SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'pipe_a' AND day = '{today.AddDays(-2):yyyy-MM-dd}'"));

        // A daily view's Name is its view name: its Tenant is what binds.
        var again = wh.Run("Get-WhMv -Tenant pipe_a -Template foodlogstats -From $today | Update-WhMv -Confirm:$false", variables);
        Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
        Assert.Equal("pipe_a", again.Single<WhMvResult>().Tenant);
    }

    [Fact]
    public async Task Test_WhMv_and_so_Repair_WhMv_leave_alone_a_template_the_tenant_does_not_use()
    {
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 4);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("pipe_b", source, "-Template foodlogstats -BackfillFrom ($WarehouseToday.AddDays(-1))");
        var query = await wh.ScalarAsync<string>("SELECT query_template FROM _wh.mv_templates WHERE template_name = 'foodlogstats'");
        var columns = await wh.ScalarAsync<string>("SELECT column_definitions FROM _wh.mv_templates WHERE template_name = 'foodlogstats'");
        Assert.True(wh.Run("Set-WhTemplate other_t -Query $q -Columns $c -Confirm:$false",
            new Dictionary<string, object?> { ["q"] = query, ["c"] = new[] { columns } }).Succeeded);

        // Before: every day of other_t reported Missing, and | Repair-WhMv loaded other_t into the tenant.
        var check = wh.Run("Test-WhMv -Tenant pipe_b -Template other_t -From ($WarehouseToday.AddDays(-1)) -Verbose | Repair-WhMv -Confirm:$false");
        Assert.True(check.Succeeded, string.Join("; ", check.AllErrors));
        Assert.Empty(check.Output);
        Assert.Contains(check.Verbose, v => v.Message.Contains("does not use template other_t"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'pipe_b' AND template_name = 'other_t'"));
    }

    [Fact]
    public async Task Set_WhTenant_tests_a_changed_source_and_a_refusing_one_changes_nothing()
    {
        // Issue 29, item 7: Set-WhTenant accepted a wrong password or port without testing it.
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 2);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("set_a", source);
        var before = await wh.SnapshotAsync();
        var wrong = new Dictionary<string, object?> { ["c"] = WarehouseScenario.Credential(source.ReaderUser, "not the password") };
        var refused = wh.Run("Set-WhTenant set_a -SourceCredential $c -Confirm:$false", wrong);
        refused.AssertError("SourceLoginRefused");
        Assert.Equal(before, await wh.SnapshotAsync());

        Assert.True(wh.Run("Set-WhTenant set_a -SourceCredential $c -SkipConnectionTest -Confirm:$false", wrong).Succeeded);
        Assert.False(wh.Run("Test-WhTenantConnection set_a").Single<WhTenantConnectionTest>().Success);
    }
}
