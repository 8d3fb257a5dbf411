using PhoodWarehouse.Core.Templates;

namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, item 6: a template is one SELECT, as the server's own lexer reads it, on every path. The two payloads of the
/// review: a dollar quote that the server reads as part of a name (é$a$) hiding "; COMMIT; BEGIN READ WRITE; ALTER
/// ROLE ...", and a query that closes the wrapper's parentheses. Neither is saved nor run at the source, whose reader
/// role stays as it was.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class TemplatePayloadTests(PostgresServer server)
{
    [Fact]
    public async Task Multi_statement_payloads_are_refused_by_Set_WhTemplate_Test_WhTemplate_and_the_template_table()
    {
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 1);
        using var wh = await WarehouseScenario.StartAsync(server);
        wh.AddTenant("payload_a", source);
        var escalate = $"ALTER ROLE \"{source.ReaderUser}\" SET work_mem = '7MB'";
        var hiddenInName = $"SELECT 1 AS x, 0 AS é$a$; COMMIT; BEGIN READ WRITE; {escalate}; COMMIT; SELECT 1 AS x, 0 AS é$a$ WHERE '{{TARGET_DATE}}'::date IS NOT NULL";
        var closesWrapper = $"SELECT 1 AS x, 0 AS y WHERE '{{TARGET_DATE}}'::date IS NOT NULL) wh_query LIMIT 0) wh_none; {escalate}; SELECT (SELECT 1";
        // Issue 27, item 7: one statement that writes.
        var writes = "WITH d AS MATERIALIZED (DELETE FROM phood_foodlogsum RETURNING 1 AS x, 2 AS y) SELECT x, y FROM d WHERE '{TARGET_DATE}'::date IS NOT NULL";
        var variables = new Dictionary<string, object?>
        {
            ["one"] = hiddenInName, ["two"] = closesWrapper, ["three"] = writes, ["cols"] = new[] { "x integer", "y integer" },
            // One SELECT that would turn the kept source session's read-only default off for the statements after it.
            ["four"] = "SELECT 1 AS x, pg_catalog.set_config('default_transaction_read_only', 'off', false)::int AS y WHERE '{TARGET_DATE}'::date IS NOT NULL",
        };

        foreach (var payload in new[] { "$one", "$two", "$three", "$four" })
        {
            var saved = wh.Run($"Set-WhTemplate payload_t -Query {payload} -Columns $cols -Confirm:$false", variables);
            Assert.False(saved.Succeeded);
            Assert.Matches("more than one statement|parenthesis|data-modifying|set_config", saved.FirstError!.ToString());

            var tested = wh.Run($"Test-WhTemplate payload_t payload_a -Query {payload} -Columns $cols", variables);
            Assert.True(tested.Succeeded, string.Join("; ", tested.AllErrors));
            var test = tested.Single<WhTemplateTest>();
            Assert.False(test.Success);
            Assert.False(test.QueryRuns);
            Assert.Contains(test.Problems, p => p.StartsWith("the query:", StringComparison.Ordinal));
        }

        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var insert = new NpgsqlCommand(
                         "INSERT INTO _wh.mv_templates (template_name, query_template, column_definitions) VALUES ('payload_t', @q, 'x integer, y integer')", db))
        {
            insert.Parameters.AddWithValue("q", hiddenInName);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
            Assert.Equal("22023", refused.SqlState);
        }
        Assert.Null(await wh.ScalarAsync<string?>("SELECT template_name FROM _wh.mv_templates WHERE template_name = 'payload_t'"));
        await using var src = await server.OpenAsync(source.Database);
        Assert.Null(await PostgresServer.Scalar(src, $"SELECT rolconfig::text FROM pg_roles WHERE rolname = '{source.ReaderUser}'") as string);
    }
}
