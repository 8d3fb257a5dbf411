namespace PhoodWarehouse.Tests.Tenants;

[Collection(WarehouseCollection.Name)]
public sealed class TenantLifecycleTests(PostgresServer server)
{
    [Fact]
    public async Task A_list_of_tenant_objects_pipes_into_New_WhTenant_with_one_shared_credential()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var sharedLogin = PostgresServer.UniqueName("shared_reader");
        var a = await server.CreateTenantSourceAsync(readerUser: sharedLogin);
        var b = await server.CreateTenantSourceAsync(readerUser: sharedLogin, seed: 2);
        var result = wh.Run(
            """
            @(
              [pscustomobject]@{ Name = 'north'; ClientName = 'North Campus'; SourceServer = $h; SourcePort = $p; SourceDatabase = $da; Template = 'foodlogstats' }
              [pscustomobject]@{ Name = 'south'; ConnectionName = 'south_conn'; SourceServer = $h; SourcePort = $p; SourceDatabase = $db; Template = 'foodlogstats' }
              [pscustomobject]@{ Name = 'east'; SourceServer = $h; SourcePort = $p; SourceDatabase = 'no_such_source_db'; Template = 'foodlogstats' }
            ) | New-WhTenant -SourceCredential $c
            """,
            new Dictionary<string, object?>
            {
                ["h"] = a.Host, ["p"] = a.Port, ["da"] = a.Database, ["db"] = b.Database,
                ["c"] = WarehouseScenario.Credential(sharedLogin, a.ReaderPassword),
            });

        var tenants = result.All<WhTenant>();
        Assert.Equal(["north", "south"], tenants.Select(t => t.Name));
        Assert.Equal("North Campus", tenants[0].ClientName);
        Assert.Equal("south_conn", tenants[1].ConnectionName);
        Assert.Equal(sharedLogin, tenants[1].SourceUser);
        Assert.Equal(["foodlogstats"], tenants[0].Templates);
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        var error = result.AssertError("SourceUnreachable");
        Assert.Contains("no_such_source_db", error.ToString());
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM pg_namespace WHERE nspname = 'east'"));
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT count(*) FROM _wh.tenant_connections WHERE tenant_name = 'east'"));

        Assert.Equal(["north", "south"], wh.Run("Get-WhTenant").All<WhTenant>().Select(t => t.Name));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task WhatIf_creates_nothing()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync();
        var before = await wh.SnapshotAsync();
        var result = wh.Run("New-WhTenant -Name t_whatif -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Template foodlogstats -WhatIf",
            WarehouseScenario.SourceVariables(source));
        result.AssertSucceeded();
        Assert.Empty(result.Output);
        var endpoint = $"{source.Host}:{source.Port}/{source.Database}";
        Assert.Equal(
            [
                $"New tenant: test the source {endpoint} through dblink; create schema t_whatif (whadmin owns it; phood_ro reads it, including views created later); " +
                $"add connection t_whatif → {endpoint} as {source.ReaderUser} (dblink server wh_t_whatif with a user mapping for whadmin); " +
                "create the tenant and public views of foodlogstats | t_whatif",
            ], result.WhatIf);
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task A_source_that_is_down_is_a_clear_error_and_nothing_is_created()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var before = await wh.SnapshotAsync();
        var result = wh.Run("New-WhTenant -Name t_down -SourceServer 127.0.0.1 -SourcePort 1 -SourceDatabase x -SourceCredential $c",
            new Dictionary<string, object?> { ["c"] = WarehouseScenario.Credential("reader", PostgresServer.SourceReaderPassword) });
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        var error = result.AssertError("SourceUnreachable");
        Assert.Contains("t_down", error.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task A_wrong_password_is_a_clear_error_that_does_not_show_it()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync();
        var before = await wh.SnapshotAsync();
        var variables = WarehouseScenario.SourceVariables(source);
        variables["c"] = WarehouseScenario.Credential(source.ReaderUser, "wrong 'secret' \\;=é");
        var result = wh.Run("New-WhTenant -Name t_wrong -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Verbose -Debug", variables);
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        result.AssertError("SourceLoginRefused");
        Assert.DoesNotContain("wrong 'secret'", result.AllText());
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task A_source_without_the_templates_tables_is_refused()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync();
        await using (var db = await server.OpenAsync(source.Database))
        await using (var drop = new Npgsql.NpgsqlCommand("DROP TABLE phood_foodlogsum", db)) await drop.ExecuteNonQueryAsync();
        var before = await wh.SnapshotAsync();
        var result = wh.Run("New-WhTenant -Name t_notables -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Template foodlogstats",
            WarehouseScenario.SourceVariables(source));
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        var error = result.AssertError("SourceTablesMissing");
        Assert.Contains("phood_foodlogsum", error.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Theory]
    [InlineData("Tenant_A")]
    [InlineData("public")]
    [InlineData("pg_tenant")]
    [InlineData("_wh")]
    [InlineData("cron")]
    [InlineData("a'b;drop schema _wh cascade")]
    [InlineData("two words")]
    [InlineData("a_very_long_tenant_name_that_is_longer_than_sixty_three_bytes_xyz")]
    public async Task Bad_tenant_names_are_refused_before_any_change(string name)
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var before = await wh.SnapshotAsync();
        var result = wh.Run("New-WhTenant -Name $n -SourceServer 127.0.0.1 -SourceDatabase x -SourceCredential $c",
            new Dictionary<string, object?> { ["n"] = name, ["c"] = WarehouseScenario.Credential("u", "p") });
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        var error = result.AssertError("InvalidTenantName");
        Assert.Contains("cannot be used", error.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task An_existing_tenant_is_a_clear_error_and_nothing_changes()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync();
        wh.AddTenant("t_exists", source);
        var before = await wh.SnapshotAsync();
        var result = wh.Run("New-WhTenant -Name t_exists -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c",
            WarehouseScenario.SourceVariables(source));
        Assert.True(result.Errors.Count == 1, string.Join(" | ", result.AllErrors));
        result.AssertError("TenantExists");
        Assert.Equal(before, await wh.SnapshotAsync());
    }

    [Fact]
    public async Task Get_WhTenant_matches_wildcards_and_reports_unknown_names_without_stopping()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync();
        wh.AddTenant("alpha_one", source);
        wh.AddTenant("alpha_two", source, "-ConnectionName alpha_two_conn");
        wh.AddTenant("beta", source, "-ConnectionName beta_conn");

        Assert.Equal(["alpha_one", "alpha_two"], wh.Run("Get-WhTenant alpha*").All<WhTenant>().Select(t => t.Name));
        var mixed = wh.Run("Get-WhTenant beta, nobody");
        Assert.Equal("beta", Assert.Single(mixed.All<WhTenant>()).Name);
        Assert.True(mixed.Errors.Count == 1, string.Join(" | ", mixed.AllErrors));
        var error = mixed.AssertError("TenantNotFound");
        Assert.Equal(System.Management.Automation.ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
    }

    [Fact]
    public async Task Test_WhTenantConnection_reports_each_tenant_and_a_down_source_is_a_result_not_an_error()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var good = await server.CreateTenantSourceAsync();
        wh.AddTenant("t_good", good);
        wh.AddTenant("t_bad", good, "-ConnectionName t_bad_conn");
        // A moved source needs its password again (a password goes only where it was given).
        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var move = new Npgsql.NpgsqlCommand("UPDATE _wh.tenant_connections SET port = 1, password = 'x' WHERE tenant_name = 't_bad_conn'", db))
            await move.ExecuteNonQueryAsync();

        var result = wh.Run("Get-WhTenant | Test-WhTenantConnection");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var tests = result.All<WhTenantConnectionTest>().ToDictionary(t => t.Name);
        Assert.True(tests["t_good"].Success);
        Assert.StartsWith("15", tests["t_good"].ServerVersion);
        Assert.NotNull(tests["t_good"].LatencyMs);
        Assert.False(tests["t_bad"].Success);
        Assert.Contains("t_bad", tests["t_bad"].Error);
    }
}
