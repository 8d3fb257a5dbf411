namespace PhoodWarehouse.Tests.Tenants;

[Collection(WarehouseCollection.Name)]
public sealed class TenantChangeAndRemoveTests(PostgresServer server)
{
    [Fact]
    public async Task No_stream_object_or_error_of_any_tenant_command_shows_the_source_password()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2);
        var variables = WarehouseScenario.SourceVariables(source);
        var script =
            """
            $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'
            New-WhTenant -Name t_secret -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -BackfillFrom ($WarehouseToday.AddDays(-1))
            Get-WhTenant t_secret
            Set-WhTenant t_secret -SourceCredential $c -ClientName secret_client -Confirm:$false
            Test-WhTenantConnection t_secret
            New-WhTenant -Name t_secret -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c
            Remove-WhTenant t_secret -Confirm:$false
            """;
        var result = wh.Run(script, variables);

        Assert.Contains(result.Output, o => o.BaseObject is WhMvResult or WhTenant);
        var text = result.AllText();
        Assert.DoesNotContain(source.ReaderPassword, text);
        Assert.DoesNotContain("pa\\ss", text);
        Assert.NotEmpty(result.Verbose);
        foreach (var item in result.Output) Assert.DoesNotContain(source.ReaderPassword, item.ToString());
    }

    [Fact]
    public async Task A_new_credential_takes_effect_for_existing_daily_views_without_recreating_them()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2);
        wh.AddTenant("t_rotate", source, "-BackfillFrom ($WarehouseToday)");
        var today = await wh.TodayAsync();
        var view = DailyViewName.Qualified("t_rotate", "foodlogstats", today);
        var oid = await wh.ScalarAsync<long>($"SELECT '{view}'::regclass::oid::bigint");

        const string newPassword = "n3w 'rotated' \\ pass;=ü";
        await using (var db = await server.OpenAsync("postgres"))
        await using (var alter = new NpgsqlCommand($"ALTER ROLE \"{source.ReaderUser}\" PASSWORD '{newPassword.Replace("'", "''")}'", db))
            await alter.ExecuteNonQueryAsync();

        var stale = wh.Run("Update-WhMv t_rotate foodlogstats");
        Assert.True(stale.Errors.Count == 1, string.Join(" | ", stale.AllErrors));
        stale.AssertError("DayFailed");

        var set = wh.Run("Set-WhTenant t_rotate -SourceCredential $c -Confirm:$false; Update-WhMv t_rotate foodlogstats",
            new Dictionary<string, object?> { ["c"] = WarehouseScenario.Credential(source.ReaderUser, newPassword) });
        Assert.True(set.Succeeded, string.Join("; ", set.AllErrors));
        Assert.Equal(MvAction.Refreshed, set.Output.Select(o => o.BaseObject).OfType<WhMvResult>().Single().Action);
        Assert.Equal(oid, await wh.ScalarAsync<long>($"SELECT '{view}'::regclass::oid::bigint"));
        Assert.DoesNotContain(newPassword, set.AllText());
    }

    [Fact]
    public async Task Set_WhTenant_changes_the_client_name_in_the_views()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1);
        wh.AddTenant("t_client", source, "-BackfillFrom ($WarehouseToday)");
        const string client = "ACME Kitchens 'North' \\ Café";
        var result = wh.Run("Set-WhTenant t_client -ClientName $n -Confirm:$false", new Dictionary<string, object?> { ["n"] = client });
        Assert.Equal(client, result.Single<WhTenant>().ClientName);
        Assert.Equal(client, await wh.ScalarAsync<string>("SELECT DISTINCT client FROM t_client.foodlogstats", "phood_ro"));
        Assert.Equal(client, await wh.ScalarAsync<string>("SELECT DISTINCT client FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task Remove_WhatIf_lists_every_step_and_changes_nothing_then_remove_leaves_no_trace_and_BI_keeps_working()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var gone = await server.CreateTenantSourceAsync(days: 2);
        var stays = await server.CreateTenantSourceAsync(days: 2, seed: 3);
        wh.AddTenant("t_gone", gone, "-BackfillFrom ($WarehouseToday.AddDays(-1))");
        wh.AddTenant("t_stays", stays, "-BackfillFrom ($WarehouseToday.AddDays(-1))");

        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("Remove-WhTenant t_gone -WhatIf");
        whatIf.AssertSucceeded();
        Assert.Equal(
            [
                "rebuild public.foodlogstats without t_gone | t_gone",
                "drop schema t_gone and its 2 daily views | t_gone",
                "drop connection t_gone (dblink server and user mapping) | t_gone",
                "unregister tenant t_gone | t_gone",
            ], whatIf.WhatIf);
        Assert.Equal(before, await wh.SnapshotAsync());

        var removed = wh.Run("Remove-WhTenant t_gone -Confirm:$false -Verbose");
        Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
        Assert.Contains(removed.Verbose, v => v.Message.Contains("public.foodlogstats"));

        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_namespace WHERE nspname = 't_gone'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 't_gone'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.tenant_connections WHERE tenant_name = 't_gone'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_foreign_server WHERE srvname LIKE '%t_gone%'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_user_mappings WHERE srvname LIKE '%t_gone%'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_views WHERE definition LIKE '%t_gone%'"));
        var expected = await wh.SourceRowsAsync(stays, await wh.TodayAsync())
                       + await wh.SourceRowsAsync(stays, (await wh.TodayAsync()).AddDays(-1));
        Assert.Equal(expected, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));

        var again = wh.Run("Remove-WhTenant t_gone -Confirm:$false");
        Assert.True(again.Errors.Count == 1, string.Join(" | ", again.AllErrors));
        again.AssertError("TenantNotFound");
    }

    [Fact]
    public async Task Running_remove_again_finishes_a_removal_that_was_interrupted()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1);
        wh.AddTenant("t_half", source, "-BackfillFrom ($WarehouseToday)");
        // As if a DBA's manual drop stopped after the schema (the guide's step 2 without steps 1, 3, 4).
        await using (var db = await server.OpenAsync(wh.Database))
        await using (var drop = new NpgsqlCommand("DROP SCHEMA t_half CASCADE", db)) await drop.ExecuteNonQueryAsync();

        var result = wh.Run("Remove-WhTenant t_half -Confirm:$false");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 't_half'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.tenant_connections WHERE tenant_name = 't_half'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_foreign_server WHERE srvname LIKE '%t_half%'"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }
}
