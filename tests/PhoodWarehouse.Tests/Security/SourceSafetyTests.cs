namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Findings 2 and 4 of docs/security.md: a password goes only where it was given, sources are read-only from the
/// warehouse, and a template is one query.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SourceSafetyTests(PostgresServer server)
{
    private static async Task<string[]> ServerOptionsAsync(WarehouseScenario wh, string connection)
    {
        await using var db = await wh.Server.OpenAsync(wh.Database, "whadmin");
        await using var command = new NpgsqlCommand("SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'wh_' || @c", db);
        command.Parameters.AddWithValue("c", connection);
        return (string[])(await command.ExecuteScalarAsync())!;
    }

    private static async Task<PostgresException> FailsAsWhadminAsync(WarehouseScenario wh, string sql)
    {
        await using var db = await wh.Server.OpenAsync(wh.Database, "whadmin");
        await using var command = new NpgsqlCommand(sql, db);
        return await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task A_moved_source_without_a_new_password_is_refused_by_Set_WhTenant_and_by_the_table_and_nothing_changes()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("moved", source);
        var before = await wh.SnapshotAsync();

        foreach (var move in new[] { "-SourceServer evil.example", "-SourcePort 1", "-SourceDatabase other", "-SourceSslMode disable", "-SourceChannelBinding disable" })
        {
            var refused = wh.Run($"Set-WhTenant moved {move} -Confirm:$false");
            refused.AssertError("SourcePasswordRequired");
            Assert.Contains("-SourceCredential", refused.FirstError!.ToString());
        }
        // The same values piped back in are no move: a client rename needs no password.
        var renamed = wh.Run("Get-WhTenant moved | Set-WhTenant -ClientName 'Moved Inc' -Confirm:$false");
        Assert.True(renamed.Succeeded, string.Join("; ", renamed.AllErrors));
        Assert.Equal("Moved Inc", renamed.Single<WhTenant>().ClientName);
        Assert.True(wh.Run("Set-WhTenant moved -ClientName moved -Confirm:$false").Succeeded);
        Assert.Equal(before, await wh.SnapshotAsync());

        // psql's route meets the same rule in the table's trigger (one home for it).
        var sql = await FailsAsWhadminAsync(wh, "UPDATE _wh.tenant_connections SET host = 'evil.example' WHERE tenant_name = 'moved'");
        Assert.Equal("22023", sql.SqlState);
        Assert.Contains("no new password", sql.MessageText);
        Assert.Contains("password", sql.Hint);
        Assert.Equal(before, await wh.SnapshotAsync());

        // With the new source's login the move goes through.
        var moved = wh.Run("Set-WhTenant moved -SourcePort $p -SourceCredential $c -Confirm:$false", WarehouseScenario.SourceVariables(source));
        Assert.True(moved.Succeeded, string.Join("; ", moved.AllErrors));
    }

    [Fact]
    public async Task Source_sessions_are_read_only_and_bounded_the_ssl_mode_reaches_the_server_and_an_upgrade_adds_them()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("guarded", source, "-SourceSslMode disable -SourceChannelBinding disable");

        var options = await ServerOptionsAsync(wh, "guarded");
        Assert.Contains("sslmode=disable", options);
        Assert.Contains("channel_binding=disable", options);
        Assert.Contains("options=-c default_transaction_read_only=on -c statement_timeout=600000", options);
        var listed = wh.Run("Get-WhTenant guarded").Single<WhTenant>();
        Assert.Equal("disable", listed.SourceSslMode);
        Assert.Equal("disable", listed.SourceChannelBinding);

        // A write at the source through the tenant's server is refused by the source itself.
        var write = await FailsAsWhadminAsync(wh, "SELECT public.dblink_exec('wh_guarded', 'CREATE TABLE zz_written (x int)')");
        Assert.Contains("read-only transaction", write.MessageText + write.Detail);

        // sslmode require against a server without TLS: the option is what dblink uses.
        var require = wh.Run("Set-WhTenant guarded -SourceSslMode require -SourceCredential $c -SkipConnectionTest -Confirm:$false", WarehouseScenario.SourceVariables(source));
        Assert.True(require.Succeeded, string.Join("; ", require.AllErrors));
        var test = wh.Run("Test-WhTenantConnection guarded").Single<WhTenantConnectionTest>();
        Assert.False(test.Success);
        Assert.Contains("SSL", test.Error, StringComparison.OrdinalIgnoreCase);

        // An unknown mode: a clear error from the SQL layer, nothing changed.
        var before = await wh.SnapshotAsync();
        var bogus = wh.Run("Set-WhTenant guarded -SourceSslMode bogus -SourceCredential $c -Confirm:$false", WarehouseScenario.SourceVariables(source));
        Assert.Contains("verify-full", bogus.FirstError!.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());

        // A server made before these options existed (release 0.1.0) gets them when functions.sql runs again.
        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var strip = new NpgsqlCommand("ALTER SERVER wh_guarded OPTIONS (DROP options)", db))
            await strip.ExecuteNonQueryAsync();
        Assert.DoesNotContain(await ServerOptionsAsync(wh, "guarded"), o => o.StartsWith("options="));
        await using (var db = await server.OpenAsync(wh.Database, "whadmin"))
        await using (var rerun = new NpgsqlCommand(SqlScripts.Read(SqlScripts.Functions), db))
            await rerun.ExecuteNonQueryAsync();
        Assert.Contains("options=-c default_transaction_read_only=on -c statement_timeout=600000", await ServerOptionsAsync(wh, "guarded"));
    }

    [Fact]
    public async Task A_template_with_a_second_statement_is_refused_by_Set_WhTemplate_and_by_the_trigger_and_one_query_is_accepted()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var before = await wh.SnapshotAsync();
        var vars = new Dictionary<string, object?>
        {
            ["two"] = "ALTER ROLE src_reader SET work_mem = '1MB'; SELECT id::bigint FROM phood_foodlogsum WHERE logged_time::date = '{TARGET_DATE}'",
            ["after"] = "SELECT id::bigint FROM phood_foodlogsum WHERE logged_time::date = '{TARGET_DATE}'; DELETE FROM phood_foodlogsum",
            ["write"] = "DELETE FROM phood_foodlogsum WHERE logged_time::date = '{TARGET_DATE}' RETURNING id",
        };
        foreach (var query in new[] { "two", "after" })
        {
            var refused = wh.Run($"Set-WhTemplate -Name zz_{query} -Query ${query} -Columns 'id bigint' -Confirm:$false", vars);
            refused.AssertError("InvalidTemplate");
            Assert.Contains("more than one statement", refused.FirstError!.ToString());
        }
        var notAQuery = wh.Run("Set-WhTemplate -Name zz_write -Query $write -Columns 'id bigint' -Confirm:$false", vars);
        notAQuery.AssertError("InvalidTemplate");
        Assert.Contains("must be a query", notAQuery.FirstError!.ToString());
        Assert.Equal(before, await wh.SnapshotAsync());

        var sql = await FailsAsWhadminAsync(wh,
            "INSERT INTO _wh.mv_templates (template_name, query_template, column_definitions) " +
            "VALUES ('zz_sql', 'SELECT 1::bigint AS id WHERE ''{TARGET_DATE}'' <> ''''; DROP TABLE phood_foodlogsum', 'id bigint')");
        Assert.Equal("22023", sql.SqlState);
        Assert.Contains("more than one statement", sql.MessageText);

        // Semicolons inside quotes, dollar quotes, identifiers and comments, and a trailing one, are one statement.
        vars["one"] = """
            -- reads only; a ';' here is a comment
            WITH d AS (SELECT id, ';' AS "a;b", $x$;$x$ AS c, E'\';' AS e FROM phood_foodlogsum WHERE logged_time::date = '{TARGET_DATE}' /* ; */)
            SELECT id::bigint FROM d;
            """;
        var accepted = wh.Run("Set-WhTemplate -Name zz_one -Query $one -Columns 'id bigint' -Confirm:$false", vars);
        Assert.True(accepted.Succeeded, string.Join("; ", accepted.AllErrors));
    }
}
