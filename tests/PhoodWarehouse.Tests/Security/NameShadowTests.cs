namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 27, item 4: no name shadows another. A tenant named after a role (phood_ro) is what "$user" in phood_ro's
/// search path found first: SELECT count(*) FROM foodlogstats as phood_ro read one tenant's rows instead of all
/// tenants'. Tenant, connection and template names that are role names, SQL keywords that need quoting or reserved
/// schema names are refused, changing nothing; phood_ro's search path holds public only.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class NameShadowTests(PostgresServer server)
{
    [Fact]
    public async Task Role_names_keywords_and_reserved_names_are_refused_for_new_tenants_connections_and_templates()
    {
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 1);
        using var wh = await WarehouseScenario.StartAsync(server);
        var before = await wh.SnapshotAsync();
        foreach (var name in new[] { "phood_ro", "whadmin", "select", "user", "cron" })
        {
            var refused = wh.Run($"New-WhTenant -Name {name} -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false",
                WarehouseScenario.SourceVariables(source));
            Assert.False(refused.Succeeded, name);
            Assert.Matches("role|keyword|reserved", refused.FirstError!.ToString());
        }
        Assert.Equal(before, await wh.SnapshotAsync());

        await using var db = await server.OpenAsync(wh.Database, "whadmin");
        foreach (var sql in new[]
                 {
                     "INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username) VALUES ('user', 'h', 5432, 'd', 'u')",
                     "INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username) VALUES ('phood_ro', 'h', 5432, 'd', 'u')",
                     "INSERT INTO _wh.mv_templates (template_name, query_template, column_definitions) SELECT 'select', query_template, column_definitions FROM _wh.mv_templates WHERE template_name = 'foodlogstats'",
                 })
        {
            await using var command = new NpgsqlCommand(sql, db);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Equal("42939", refused.SqlState); // reserved_name
        }
        Assert.Equal(before, await wh.SnapshotAsync());

        await using var ro = await server.OpenAsync(wh.Database, "phood_ro");
        Assert.Equal("public", await PostgresServer.Scalar(ro, "SELECT current_setting('search_path')"));
    }
}
