using PhoodWarehouse.Core.Configuration;

namespace PhoodWarehouse.Tests.Tenants;

/// <summary>
/// Issue 29, items 3 and 4: every warehouse the module or the guide's SQL can build can be restored, and a tenant the
/// guide's SQL left half made can be finished. Two tenants sharing one connection (the SQL layer allows it) could not
/// be made by New-WhTenant nor imported ("A connection named ... already exists"); a schema and connection without a
/// registration made New-WhTenant and Set-WhTenant each point at the other; "must be owner" came without the fix.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SharedAndHalfMadeTenantTests(PostgresServer server)
{
    private static string NewTenant(string name, string connection) =>
        $"New-WhTenant -Name {name} -ConnectionName {connection} -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false";

    [Fact]
    public async Task Two_tenants_can_share_a_connection_and_a_warehouse_holding_them_exports_and_imports_whole()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 3);
        var variables = WarehouseScenario.SourceVariables(source);
        wh.Run(NewTenant("sh_a", "sh_conn"), variables).AssertSucceeded();
        // -WhatIf says the connection is shared, and changes nothing.
        var unchanged = await wh.SnapshotAsync();
        var whatIf = wh.Run(NewTenant("sh_b", "sh_conn") + " -WhatIf", variables);
        whatIf.AssertSucceeded();
        Assert.Contains(whatIf.WhatIf, line => line.Contains("share connection sh_conn") && line.Contains("with sh_a"));
        Assert.Equal(unchanged, await wh.SnapshotAsync());
        wh.Run(NewTenant("sh_b", "sh_conn"), variables).AssertSucceeded();
        var tenants = wh.Run("Get-WhTenant sh_*").All<WhTenant>();
        Assert.Equal(["sh_conn", "sh_conn"], tenants.Select(t => t.ConnectionName));
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenant_connections WHERE tenant_name = 'sh_conn'"));

        // The same connection name for another source is refused, saying how to share it, and changes nothing.
        var other = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 3);
        var before = await wh.SnapshotAsync();
        var refused = wh.Run(NewTenant("sh_c", "sh_conn"), WarehouseScenario.SourceVariables(other)).AssertError("ConnectionExists");
        Assert.Contains("already exists for another source", refused.ToString());
        Assert.Contains("give the same -SourceServer", refused.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());

        // Export refuses a folder that does not exist (and makes none) and a file that exists, unless -Force.
        var folder = Directory.CreateTempSubdirectory("phood-export-").FullName;
        try
        {
            var missing = Path.Combine(folder, "no_such_folder", "wh.json");
            wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = missing }).AssertError("ConfigurationFolderMissing");
            Assert.False(Directory.Exists(Path.GetDirectoryName(missing)));
            var file = Path.Combine(folder, "wh.json");
            File.WriteAllText(file, "yesterday's export");
            wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = file }).AssertError("ConfigurationFileExists");
            Assert.Equal("yesterday's export", File.ReadAllText(file));
            wh.Run("Export-WhConfiguration -Path $f -Force", new Dictionary<string, object?> { ["f"] = file }).AssertSucceeded();
            Assert.Contains("sh_conn", File.ReadAllText(file));

            // Into a new warehouse: -WhatIf predicts no refusal, then both tenants come back on one connection.
            using var restored = await WarehouseScenario.StartAsync(server, await server.CreateWarehouseAsync());
            var importVariables = new Dictionary<string, object?> { ["f"] = file, ["c"] = variables["c"] };
            var predicted = restored.Run("Import-WhConfiguration -Path $f -SourceCredential $c -WhatIf", importVariables);
            predicted.AssertSucceeded();
            Assert.DoesNotContain(predicted.All<WhImportResult>(), r => r.Kind == "Tenant");
            var imported = restored.Run("Import-WhConfiguration -Path $f -SourceCredential $c", importVariables);
            imported.AssertSucceeded();
            Assert.Equal(["sh_a", "sh_b"], imported.All<WhImportResult>().Where(r => r.Kind == "Tenant" && r.Action == ImportAction.Created).Select(r => r.Name).Order());
            Assert.Equal(["sh_conn", "sh_conn"], restored.Run("Get-WhTenant sh_*").All<WhTenant>().Select(t => t.ConnectionName));
            Assert.Equal(1L, await restored.ScalarAsync<long>("SELECT count(*) FROM _wh.tenant_connections"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_tenant_half_made_by_the_guides_sql_is_adopted_and_a_schema_of_another_owner_is_refused_with_the_fix()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 3);
        var variables = WarehouseScenario.SourceVariables(source);

        // The guide's first steps as whadmin: the schema and the connection, then nothing (no registration).
        await using (var whadmin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
        {
            await whadmin.ExecAsync("CREATE SCHEMA half_a");
            await whadmin.AddConnectionAsync("half_a", source);
        }
        wh.Run("Set-WhTenant half_a -ClientName x -Confirm:$false").AssertError("TenantNotFound");
        var adoption = wh.Run(NewTenant("half_a", "half_a") + " -WhatIf", variables);
        Assert.Contains(adoption.WhatIf, line => line.Contains("adopt the existing schema half_a") && line.Contains("use the existing connection half_a"));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 'half_a'"));
        var adopted = wh.Run(NewTenant("half_a", "half_a"), variables);
        adopted.AssertSucceeded();
        Assert.Equal(["foodlogstats"], adopted.Single<WhTenant>().Templates);
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 'half_a'"));

        // A schema the superuser made: whadmin cannot own what it creates there, nor drop it later. Refused with the fix.
        await wh.ScalarAsync<string>("CREATE SCHEMA half_b; SELECT 'made'");
        var before = await wh.SnapshotAsync();
        var refused = wh.Run(NewTenant("half_b", "half_b"), variables).AssertError("SchemaNotWhadmins");
        Assert.Contains("ALTER SCHEMA \"half_b\" OWNER TO whadmin", refused.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());
        await wh.ScalarAsync<string>("ALTER SCHEMA half_b OWNER TO whadmin; SELECT 'given'");
        wh.Run(NewTenant("half_b", "half_b"), variables).AssertSucceeded();

        // Removing a tenant whose schema another role owns: "must be owner" comes with the fix, and nothing changes.
        await wh.ScalarAsync<string>("ALTER SCHEMA half_a OWNER TO postgres; SELECT 'taken'");
        var stuck = wh.Run("Remove-WhTenant half_a -Confirm:$false");
        Assert.False(stuck.Succeeded);
        Assert.Contains("ALTER SCHEMA half_a OWNER TO whadmin", string.Join(" ", stuck.AllErrors));
        Assert.Equal(1L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.tenants WHERE schema_name = 'half_a'"));
        await wh.ScalarAsync<string>("ALTER SCHEMA half_a OWNER TO whadmin; SELECT 'given back'");
        wh.Run("Remove-WhTenant half_a -Confirm:$false").AssertSucceeded();
    }
}
