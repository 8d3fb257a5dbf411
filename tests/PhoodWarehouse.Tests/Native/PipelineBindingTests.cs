namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Issue 29, item 5: every cmdlet with -Tenant binds Get-WhTenant's objects (Update-WhMv and Remove-WhMv failed with
/// PowerShell's generic binding error), every -Date binds Get-WhMv's, and Get-WhMv's objects bind by their Tenant, not
/// their view Name; Test-WhMv and Repair-WhMv touch only the templates a tenant uses.
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

    /// <summary>
    /// Every -Tenant of the module binds Get-WhTenant's objects (by their Name, or whole: a tenant's string is its name)
    /// and every -Date binds Get-WhMv's (by their Date), as PowerShell itself reports the parameters.
    /// </summary>
    [Fact]
    public void Every_Tenant_parameter_binds_Get_WhTenant_output_and_every_Date_parameter_binds_Get_WhMv_output()
    {
        // Set-WhTemplate's pipeline is templates; its -Tenant names the source to check them against.
        var exempt = new[] { "Set-WhTemplate -Tenant" };
        using var shell = new HostedPowerShell();
        var result = shell.Run(
            """
            foreach ($command in Get-Command -Module PhoodWarehouse -CommandType Cmdlet) {
                foreach ($parameter in $command.Parameters.Values | Where-Object Name -in 'Tenant', 'Date') {
                    $attributes = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
                    $byValue = @($attributes | Where-Object ValueFromPipeline).Count -gt 0
                    $byName = @($attributes | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
                    [pscustomobject]@{ Name = "$($command.Name) -$($parameter.Name)"; Parameter = $parameter.Name; ByValue = $byValue; ByName = $byName; Aliases = @($parameter.Aliases) }
                }
            }
            """);
        result.AssertSucceeded();
        var parameters = result.Output.Select(o => (
            Name: (string)o.Properties["Name"].Value, Parameter: (string)o.Properties["Parameter"].Value,
            ByValue: (bool)o.Properties["ByValue"].Value, ByName: (bool)o.Properties["ByName"].Value,
            Aliases: ((object[])o.Properties["Aliases"].Value).Select(a => a.ToString()!).ToArray())).ToList();
        Assert.True(parameters.Count(p => p.Parameter == "Tenant") >= 10, string.Join(", ", parameters.Select(p => p.Name)));
        var unbound = parameters.Where(p => !exempt.Contains(p.Name) && (p.Parameter == "Tenant"
            ? !(p.ByValue || (p.ByName && p.Aliases.Contains("Name")))
            : !p.ByName)).Select(p => p.Name).ToList();
        Assert.True(unbound.Count == 0, "do not bind from the pipeline: " + string.Join(", ", unbound));
    }

    [Fact]
    public async Task Get_WhTenant_pipes_into_Test_WhTemplate_and_Remove_WhMv_without_a_day_is_an_error_not_a_prompt()
    {
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 4);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("pipe_t", source, "-BackfillFrom ($WarehouseToday.AddDays(-1))").AssertSucceeded();
        var tested = wh.Run("Get-WhTenant pipe_t | Test-WhTemplate foodlogstats");
        tested.AssertSucceeded();
        Assert.Equal("pipe_t", tested.Single<PhoodWarehouse.Core.Templates.WhTemplateTest>().Tenant);

        var before = await wh.SnapshotAsync();
        var removal = wh.Run("Get-WhTenant pipe_t | Remove-WhMv -Template foodlogstats -Confirm:$false");
        var error = removal.AssertError("DayRequired");
        Assert.Contains("Give -Date <day> (one day) or -Before <day>", error.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());
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
