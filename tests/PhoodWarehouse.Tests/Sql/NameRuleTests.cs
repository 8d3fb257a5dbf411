using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 28, item 7: one name rule. The module checks names before it asks the warehouse (a clear error, nothing
/// sent); the SQL layer's checks are the rule (_wh.assert_tenant_schema, assert_connection_name, assert_template_name).
/// For the same names, both accept and refuse alike, lengths included (63, 60, 52 bytes), and the module's reserved
/// schema names are refused by SQL too.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class NameRuleTests(PostgresServer server)
{
    private static readonly string[] Samples =
    [
        "a", "tenant_a", "_x", "x9", "9a", "A", "a-b", "a b", "é", "", "a;b",
        new string('a', 51), new string('a', 52), new string('a', 53), new string('a', 59), new string('a', 60),
        new string('a', 61), new string('a', 63), new string('a', 64),
    ];

    [Fact]
    public async Task The_module_and_the_SQL_layer_accept_and_refuse_the_same_names()
    {
        await using var wh = await SqlKit.OpenAsync(server, await server.CreateWarehouseAsync(), "whadmin");
        var kinds = new (string Sql, Action<string> Module)[]
        {
            ("_wh.assert_tenant_schema", name => TenantName.Validate(name)),
            ("_wh.assert_connection_name", TenantName.ValidateConnection),
            ("_wh.assert_template_name", TenantName.ValidateTemplate),
        };
        var differences = new List<string>();
        foreach (var (sql, module) in kinds)
        foreach (var name in Samples)
        {
            var moduleAccepts = Accepts(() => module(name));
            bool sqlAccepts;
            try
            {
                await wh.ExecAsync($"SELECT {sql}($1)", name);
                sqlAccepts = true;
            }
            catch (PostgresException)
            {
                sqlAccepts = false;
            }
            if (moduleAccepts != sqlAccepts) differences.Add($"{sql}('{name}' ({name.Length})): module {moduleAccepts}, SQL {sqlAccepts}");
        }
        Assert.True(differences.Count == 0, string.Join("\n", differences));

        // The reserved schema names the module refuses, SQL refuses as tenant schemas.
        foreach (var reserved in new[] { "_wh", "public", "cron", "information_schema", "pg_anything" })
        {
            Assert.False(Accepts(() => TenantName.Validate(reserved)), reserved);
            await wh.FailsAsync("SELECT _wh.assert_tenant_schema($1)", null, reserved);
        }
    }

    private static bool Accepts(Action check)
    {
        try
        {
            check();
            return true;
        }
        catch (WarehouseException)
        {
            return false;
        }
    }
}
