namespace PhoodWarehouse.Tests.Session;

/// <summary>
/// Issue 25: the module through PgBouncer (Debian's, default settings) in transaction and session mode. No startup
/// parameter (PgBouncer refuses "options"), and no setting outlives the transaction that needed it: the next client
/// of the same server connection sees the server's defaults after a backfill with -DayTimeout, a check and a repair.
/// BI as phood_ro reads through both modes.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class PoolerTests(PostgresServer server)
{
    private static readonly Dictionary<string, string> Logins = new()
    {
        ["whadmin"] = PostgresServer.WhadminPassword,
        ["phood_ro"] = PostgresServer.PhoodRoPassword,
    };

    [Fact]
    public async Task Through_transaction_pooling_a_backfill_check_and_repair_leave_the_server_connection_at_its_defaults()
    {
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10);
        // One server connection per pool: the next whadmin client gets the very connection the module used.
        using var bouncer = PgBouncerProcess.Start(server, "transaction", Logins, onePerPool: true);
        var defaults = await DefaultsDirectAsync(database);

        using var shell = new HostedPowerShell();
        var variables = WarehouseScenario.SourceVariables(source);
        variables["cs"] = bouncer.ConnectionString(database, "whadmin", PostgresServer.WhadminPassword);
        variables["from"] = source.FirstDay.ToDateTime(TimeOnly.MinValue);
        var connect = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables);
        Assert.True(connect.Succeeded, string.Join("; ", connect.AllErrors));
        var journey = shell.Run(
            """
            New-WhTenant -Name pooled_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c | Out-Null
            Invoke-WhMvBackfill -Tenant pooled_a -Template foodlogstats -From $from -DayTimeout 00:00:07 | Out-Null
            Test-WhMv -Tenant pooled_a -Template foodlogstats -From $from | Repair-WhMv -Confirm:$false | Out-Null
            Test-WhMv -Tenant pooled_a -Template foodlogstats -From $from
            """, variables);
        Assert.True(journey.Succeeded, string.Join("; ", journey.AllErrors));
        Assert.Equal(3, journey.All<WhMvCheck>().Count(c => c.Status == MvCheckStatus.Match));
        shell.Run("Disconnect-WhWarehouse");

        await using (var next = new NpgsqlConnection(bouncer.ConnectionString(database, "whadmin", PostgresServer.WhadminPassword, pooling: false)))
        {
            await next.OpenAsync();
            Assert.Equal(defaults, await DefaultsAsync(next));
        }

        await using var bi = new NpgsqlConnection(bouncer.ConnectionString(database, "phood_ro", PostgresServer.PhoodRoPassword, pooling: false));
        await bi.OpenAsync();
        Assert.Equal(30L, await PostgresServer.Scalar(bi, "SELECT count(*) FROM public.foodlogstats WHERE client = 'pooled_a'"));
    }

    [Fact]
    public async Task Through_session_pooling_the_module_connects_and_BI_reads()
    {
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        using var bouncer = PgBouncerProcess.Start(server, "session", Logins);
        using var shell = new HostedPowerShell();
        var variables = WarehouseScenario.SourceVariables(source);
        variables["cs"] = bouncer.ConnectionString(database, "whadmin", PostgresServer.WhadminPassword);
        variables["from"] = source.FirstDay.ToDateTime(TimeOnly.MinValue);
        var journey = shell.Run(
            """
            Connect-WhWarehouse -ConnectionString $cs | Out-Null
            New-WhTenant -Name session_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c | Out-Null
            Invoke-WhMvBackfill -Tenant session_a -Template foodlogstats -From $from -DayTimeout 00:00:07
            """, variables);
        Assert.True(journey.Succeeded, string.Join("; ", journey.AllErrors));
        Assert.Equal(2, journey.All<WhMvResult>().Count(r => r.Action == MvAction.Created));

        await using var bi = new NpgsqlConnection(bouncer.ConnectionString(database, "phood_ro", PostgresServer.PhoodRoPassword, pooling: false));
        await bi.OpenAsync();
        Assert.Equal(10L, await PostgresServer.Scalar(bi, "SELECT count(*) FROM public.foodlogstats WHERE client = 'session_a'"));
    }

    /// <summary>The settings the module sets for a while (or a pooled session could keep), as the server reports them.</summary>
    private static async Task<string> DefaultsAsync(NpgsqlConnection db)
    {
        await using var command = new NpgsqlCommand(
            "SELECT concat_ws(' | ', current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('search_path'), " +
            "current_setting('idle_in_transaction_session_timeout'), current_setting('jit'), coalesce(array_to_string(dblink_get_connections(), ','), ''))", db);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task<string> DefaultsDirectAsync(string database)
    {
        await using var db = await server.OpenAsync(database, "whadmin");
        return await DefaultsAsync(db);
    }
}
