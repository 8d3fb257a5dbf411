namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Managing Cron Jobs as whadmin (cron.schedule_in_database with four arguments, alter_job, unschedule; the guide's
/// five-argument cron.schedule and UPDATE cron.job fail clearly), and re-running functions.sql on a warehouse with data.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class CronAndRerunTests(PostgresServer server)
{
    [Fact]
    public async Task Managing_cron_jobs_as_whadmin()
    {
        Assert.True(server.HasPgCron, "the test cluster must preload pg_cron");
        var database = await server.CronWarehouseAsync();
        var job = PostgresServer.UniqueName("daily-tenant-a-update").Replace('_', '-');
        await using var first = await SqlKit.OpenAsync(server, database, "whadmin");
        const string Command = "SELECT _wh.update_mv_by_template('foodlogstats', 'tenant_a', 'tenant_a', CURRENT_DATE)";

        // The guide's five-argument cron.schedule does not exist; naming a user is refused to a non-superuser.
        await first.FailsAsync($"SELECT cron.schedule('{job}', '0 2 * * *', $${Command}$$, 'phood_warehouse', 'whadmin')", ["42883"]);
        var named = await first.FailsAsync($"SELECT cron.schedule_in_database('{job}', '0 2 * * *', $${Command}$$, 'phood_warehouse', 'whadmin')");
        Assert.Contains("superuser", named.MessageText);
        // pg_cron raises that with SQLSTATE XX000 (internal error), after which Npgsql drops the connection: reconnect.
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");

        var id = await wh.ScalarAsync<long>($"SELECT cron.schedule_in_database('{job}', '0 2 * * *', $${Command}$$, 'phood_warehouse')");
        var row = (await wh.RowsAsync(
            "SELECT jobid, schedule, command, jobname, active, database, username FROM cron.job ORDER BY jobid")).Single(r => (long)r[0]! == id);
        Assert.Equal(new object?[] { id, "0 2 * * *", Command, job, true, "phood_warehouse", "whadmin" }, row);
        Assert.Empty(await wh.RowsAsync(
            """
            SELECT j.jobname, j.command, r.status, r.start_time, r.end_time, r.return_message
            FROM cron.job j LEFT JOIN cron.job_run_details r ON j.jobid = r.jobid
            WHERE r.start_time > NOW() - INTERVAL '24 hours' AND j.jobname = $1
            ORDER BY r.start_time DESC
            """, job));

        // Disable/enable: the guide's UPDATE is refused; cron.alter_job works.
        await wh.FailsAsync($"UPDATE cron.job SET active = false WHERE jobname = '{job}'", [SqlKit.InsufficientPrivilege]);
        await wh.ExecAsync("SELECT cron.alter_job($1, active := false)", id);
        Assert.False(await wh.ScalarAsync<bool>("SELECT active FROM cron.job WHERE jobid = $1", id));
        await wh.ExecAsync("SELECT cron.alter_job($1, active := true)", id);
        Assert.True(await wh.ScalarAsync<bool>("SELECT active FROM cron.job WHERE jobid = $1", id));

        await wh.ExecAsync($"SELECT cron.unschedule('{job}')");
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM cron.job WHERE jobid = $1", id));

        // phood_ro schedules nothing.
        await using var ro = await SqlKit.OpenAsync(server, database, "phood_ro");
        await ro.FailsAsync($"SELECT cron.schedule_in_database('{job}', '0 2 * * *', 'SELECT 1', 'phood_warehouse')", [SqlKit.InsufficientPrivilege]);
    }

    private static readonly string FunctionsSql = SqlScripts.Read(SqlScripts.Functions);

    [Fact]
    public async Task Rerunning_functions_sql_as_whadmin_keeps_every_row_and_changes_nothing_and_postgres_is_refused_even_with_set_role()
    {
        var env = await SharedWarehouse.CreateAsync(server, days: 3, rowsPerDay: 5);
        var schema = PostgresServer.UniqueName("rerun");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, CURRENT_DATE - 2, CURRENT_DATE)", env.Connection, schema);
        await wh.ExecAsync("SELECT _wh.log_failure('foodlogstats', $1, $2, CURRENT_DATE, 'kept')", env.Connection, schema);
        const string Data =
            """
            SELECT (SELECT string_agg(t::text, '|' ORDER BY id) FROM _wh.run_log t)
                || (SELECT count(*) FROM public.foodlogstats)::text
                || (SELECT string_agg(array_to_string(umoptions, ','), ';') FROM pg_user_mappings)
            """;
        var superuser = server.ConnectionString(env.Database);
        var catalog = await CatalogSnapshot.TakeAsync(superuser);
        var data = await wh.ScalarAsync<string>(Data);
        Assert.Contains("kept", data);
        Assert.Contains(PostgresServer.SourceReaderPassword, data);

        await wh.ExecAsync(FunctionsSql);
        Assert.Equal(catalog, await CatalogSnapshot.TakeAsync(superuser));
        Assert.Equal(data, await wh.ScalarAsync<string>(Data));

        await using var postgres = await SqlKit.OpenAsync(server, env.Database);
        var refused = await postgres.FailsAsync(FunctionsSql, ["P0001"]);
        Assert.Contains("whadmin", refused.MessageText);
        // SET ROLE whadmin in a superuser session is no boundary (docs/security.md): functions.sql refuses it too.
        await using (var tx = await postgres.BeginTransactionAsync())
        {
            await postgres.ExecAsync("SET LOCAL ROLE whadmin");
            var setRole = await postgres.FailsAsync(FunctionsSql, ["P0001"]);
            Assert.Contains("authenticated as whadmin", setRole.MessageText);
            await tx.RollbackAsync();
        }
        Assert.Equal(catalog, await CatalogSnapshot.TakeAsync(superuser));
        Assert.Equal(data, await wh.ScalarAsync<string>(Data));
        Assert.Equal(15L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats"));
    }
}
