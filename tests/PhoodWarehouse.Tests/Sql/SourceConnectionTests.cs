namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Connections to the sources in the SQL layer: a session keeps at most one (_wh.session_dblink), a daily view's own
/// connection never comes on top of it, and which errors count as transient is one list shared with the module.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SourceConnectionTests(PostgresServer server)
{
    [Fact]
    public async Task The_transient_error_list_is_the_same_in_SQL_and_in_the_module_and_both_classify_alike()
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        var rules = await wh.RowsAsync("SELECT kind, value FROM _wh.transient_error_rules() ORDER BY kind, value");
        Assert.Equal(TransientErrors.SqlStates.Order(), rules.Where(r => (string)r[0]! == "sqlstate").Select(r => (string)r[1]!).Order());
        Assert.Equal(TransientErrors.ConnectionMarkers.Order(), rules.Where(r => (string)r[0]! == "marker").Select(r => (string)r[1]!).Order());

        (string State, string Message, bool Transient)[] cases =
        [
            ("53300", "sorry, too many clients already", true),
            ("57P03", "the database system is starting up", true),
            ("40001", "could not serialize access due to concurrent update", true),
            ("40P01", "deadlock detected", true),
            ("08001", "could not establish connection connection to server at \"127.0.0.1\", port 5 failed: FATAL:  remaining connection slots are reserved for non-replication superuser connections", true),
            ("08001", "could not establish connection connection to server failed: FATAL:  Sorry, too many clients already", true),
            ("08006", "connection to server failed: FATAL:  the database system is starting up", true),
            ("08001", "could not establish connection connection to server failed: FATAL:  password authentication failed for user \"r\"", false),
            ("08001", "could not establish connection connection to server failed: Connection refused", false),
            ("42501", "permission denied for table phood_foodlogsum", false),
            ("42P01", "relation \"phood_foodlogsum\" does not exist", false),
            ("XX000", "sorry, too many clients already", false),
            ("57014", "canceling statement due to statement timeout", false),
        ];
        foreach (var (state, message, transient) in cases)
        {
            Assert.True(transient == TransientErrors.IsTransient(state, message), $"C#: {state} {message}");
            Assert.True(transient == await wh.ScalarAsync<bool>("SELECT _wh.is_transient_error($1, $2)", state, message), $"SQL: {state} {message}");
        }
    }

    [Fact]
    public async Task A_session_keeps_one_source_connection_whatever_the_number_of_tenants_and_a_daily_view_closes_it_first()
    {
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 10);
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '1' WHERE key = 'compact_after_days'");
        var schemas = new[] { "sc_one", "sc_two", "sc_three" };
        foreach (var schema in schemas)
        {
            await wh.AddConnectionAsync(schema, source);
            // Three closed days: more than compact_after_days, so closed days go straight into the compacted table.
            await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $1, $2, $3)", schema, SqlKit.Today(server).AddDays(-4), SqlKit.Today(server).AddDays(-2));
        }
        await wh.ExecAsync("SELECT _wh.close_session_dblinks()");
        Assert.Equal(0, await SourceBackendsAsync(source));

        foreach (var schema in schemas)
        {
            // A closed day, forced: loaded over the session's kept connection to this tenant's server.
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $1, $2, force => true)", schema, SqlKit.Today(server).AddDays(-3));
            Assert.Equal(1, await wh.ScalarAsync<int>("SELECT cardinality(dblink_get_connections())"));
            Assert.Equal(1, await SourceBackendsAsync(source));
            Assert.Equal(ServerName(schema), await wh.ScalarAsync<string>("SELECT server_name FROM _wh.kept_dblinks WHERE pid = pg_backend_pid()"));
        }

        // Today is a materialized view whose definition opens its own connection: the kept one is closed first.
        await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $1, $2)", schemas[0], SqlKit.Today(server));
        Assert.Null(await wh.ScalarAsync<string[]?>("SELECT dblink_get_connections()"));
        Assert.Equal(0, await SourceBackendsAsync(source));
        Assert.Equal(0, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.kept_dblinks WHERE pid = pg_backend_pid()"));

        // A DBA's own named dblink connection is not the warehouse's to close.
        await wh.ExecAsync("SELECT dblink_connect('mine', _wh.get_tenant_connection_string('sc_one'))");
        Assert.Equal(0, await wh.ScalarAsync<int>("SELECT _wh.close_session_dblinks()"));
        Assert.Equal(new[] { "mine" }, await wh.ScalarAsync<string[]>("SELECT dblink_get_connections()"));
    }

    private static string ServerName(string connection) => "wh_" + connection;

    private async Task<int> SourceBackendsAsync(TenantSource source)
    {
        await using var admin = await server.OpenAsync(source.Database);
        return await admin.ScalarAsync<int>("SELECT count(*)::int FROM pg_stat_activity WHERE usename = $1", source.ReaderUser);
    }
}
