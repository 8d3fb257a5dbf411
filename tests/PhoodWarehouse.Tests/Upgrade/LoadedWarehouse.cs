namespace PhoodWarehouse.Tests.Upgrade;

/// <summary>
/// A warehouse as an earlier release left it after weeks of use: two tenants (one with its own client name), 40 days
/// each loaded with that release's SQL (so closed days were compacted and recent days are materialized views), two
/// days left unloaded, cron jobs in that release's form (one paused) and the run log that all of this wrote.
/// </summary>
internal sealed class LoadedWarehouse
{
    public const int Days = 40;
    public const int RowsPerDay = 20;
    private readonly LocalPostgresCluster cluster;

    private LoadedWarehouse(LocalPostgresCluster cluster, string database, DateOnly today)
    {
        this.cluster = cluster;
        DatabaseName = database;
        Today = today;
    }

    public string DatabaseName { get; }
    public DateOnly Today { get; }
    public string Superuser => cluster.ConnectionString(DatabaseName);
    public string Whadmin => cluster.ConnectionString(DatabaseName, "whadmin", PostgresServer.WhadminPassword);
    /// <summary>Days the old release did not load (closed days: after the upgrade they go into the compacted table).</summary>
    public IReadOnlyList<DateOnly> GapDays => [Today.AddDays(-4), Today.AddDays(-3)];
    private string SourceDatabase(string tenant) => $"{DatabaseName}_{tenant}_src";

    public static async Task<LoadedWarehouse> CreateAsync(LocalPostgresCluster cluster, FrozenRelease release, string database, bool withCronJobs)
    {
        await SqlKit.ExecAsync(cluster.ConnectionString(), $"CREATE DATABASE {database}");
        var today = await SqlKit.ScalarAsync<DateOnly>(cluster.ConnectionString(), "SELECT current_date");
        var warehouse = new LoadedWarehouse(cluster, database, today);
        await release.InstallAsync(warehouse.Superuser, warehouse.Whadmin, PostgresServer.WhadminPassword, PostgresServer.PhoodRoPassword);

        var seed = 1;
        foreach (var tenant in new[] { "up_a", "up_b" })
        {
            var spec = new SampleTenantSourceSpec
            {
                Database = warehouse.SourceDatabase(tenant), ReaderUser = $"{database}_{tenant}_reader",
                ReaderPassword = PostgresServer.SourceReaderPassword, FirstDay = today.AddDays(-(Days - 1)), Days = Days,
                RowsPerDay = RowsPerDay, Seed = seed++,
            };
            await SampleTenantSource.CreateAsync(cluster.ConnectionString(), spec);
            await using var wh = await warehouse.OpenWhadminAsync();
            await wh.ExecAsync("INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES ($1, $2, $3, $4, $5, $6)",
                tenant + "_conn", cluster.Host, cluster.Port, spec.Database, spec.ReaderUser, spec.ReaderPassword);
            await wh.ExecAsync("CALL _wh.run_mv_window_by_template('foodlogstats', $1, $2, $3, $4)",
                tenant + "_conn", tenant, spec.FirstDay, warehouse.GapDays[0].AddDays(-1));
            await wh.ExecAsync("CALL _wh.run_mv_window_by_template('foodlogstats', $1, $2, $3, $4)",
                tenant + "_conn", tenant, warehouse.GapDays[^1].AddDays(1), today);
        }
        await using (var wh = await warehouse.OpenWhadminAsync())
        {
            await wh.ExecAsync("SELECT _wh.set_client_name('up_b', $1)", "Bee & Co 'quoted'");
            if (withCronJobs)
            {
                // The jobs Register-WhCronJob of that release made (its CronJobCommand.Build): one active, one paused.
                // Schedules that do not fire while the test runs (29 February, 02:00; a paused job never fires).
                await wh.ExecAsync("SELECT cron.schedule_in_database('wh_up_a_foodlogstats', '0 2 29 2 *', $1, current_database())",
                    "SELECT _wh.update_mv_by_template('foodlogstats', 'up_a_conn', 'up_a', CURRENT_DATE)");
                await wh.ExecAsync("SELECT cron.schedule_in_database('wh_up_b_foodlogstats', '30 3 * * *', $1, current_database())",
                    "SELECT _wh.update_mv_by_template('foodlogstats', 'up_b_conn', 'up_b', CURRENT_DATE)");
                // A job a DBA wrote by hand: the upgrade leaves its command alone.
                await wh.ExecAsync("SELECT cron.schedule_in_database('dba_nightly_check', '15 4 29 2 *', 'SELECT count(*) FROM _wh.run_log', current_database())");
                await wh.ExecAsync("SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobname = 'wh_up_b_foodlogstats'");
            }
        }
        return warehouse;
    }

    public static System.Management.Automation.PSCredential WhadminCredential =>
        WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword);

    public Dictionary<string, object?> Variables() => new()
    {
        ["superuser"] = Superuser, ["whadmin"] = Whadmin, ["wc"] = WhadminCredential,
        ["today"] = Today.ToDateTime(TimeOnly.MinValue),
        ["gapFrom"] = GapDays[0].ToDateTime(TimeOnly.MinValue), ["gapTo"] = GapDays[^1].ToDateTime(TimeOnly.MinValue),
    };

    public async Task<InstallPlan> PlanAsync()
    {
        using var connection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = Whadmin }, NullLogger.Instance, default);
        return await new WarehouseInstaller(connection, NullLogger.Instance).PlanAsync(default);
    }

    /// <summary>True while a module session (Install-WhWarehouse) of this database waits for a lock.</summary>
    public bool InstallIsWaitingOnALock()
    {
        using var db = new NpgsqlConnection(cluster.ConnectionString());
        db.Open();
        using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = @d AND wait_event_type = 'Lock' AND application_name LIKE 'PhoodWarehouse%'", db);
        command.Parameters.AddWithValue("d", DatabaseName);
        return (long)command.ExecuteScalar()! > 0;
    }

    public Task<long> CountAsync(string sql) => SqlKit.ScalarAsync<long>(Superuser, sql);

    /// <summary>"name command" of every cron job, by name.</summary>
    public async Task<List<string>> CronCommandsAsync()
    {
        await using var db = new NpgsqlConnection(Superuser);
        await db.OpenAsync();
        return await db.ColumnAsync("SELECT jobname || ' ' || command FROM cron.job ORDER BY jobname");
    }

    public Task AddSourceRowsAsync(string tenant, DateOnly day, int rows) =>
        SqlKit.AddSourceRowsAsync(cluster.ConnectionString(SourceDatabase(tenant)), day, rows);

    public Task<long> SourceRowsAsync(string tenant, DateOnly day) =>
        SqlKit.SourceRowsAsync(cluster.ConnectionString(SourceDatabase(tenant)), day);

    /// <summary>Rows of one day as BI sees it: the daily name, read as phood_ro.</summary>
    public Task<long> WarehouseRowsAsync(string tenant, DateOnly day) =>
        SqlKit.ScalarAsync<long>(cluster.ConnectionString(DatabaseName, "phood_ro", PostgresServer.PhoodRoPassword),
            $"SELECT count(*) FROM {tenant}.foodlogstats_{day:yyyy_MM_dd}");

    private async Task<NpgsqlConnection> OpenWhadminAsync()
    {
        var db = new NpgsqlConnection(Whadmin);
        await db.OpenAsync();
        return db;
    }
}
