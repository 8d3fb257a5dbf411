using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Architecture fact 3: a query on a view locks every relation and index it reaches. Since 2.1.0 the tenant view reads
/// two tables whatever the number of days, so a backfill adds rows, not locks; a view built by hand over the daily
/// views (the guide's manual public view) still can, and Get-WhWarehouse warns with the number and the setting to change.
/// </summary>
public sealed class LockHeadroomTests
{
    [Fact]
    public async Task A_backfill_adds_rows_not_locks_and_a_hand_made_view_over_the_days_is_reported_by_Get_WhWarehouse()
    {
        // 10 × (20 + 0) = 200 lock slots: a dozen daily views with their indexes pass the warning share.
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions
        {
            PreloadPgCron = false,
            ExtraSettings = ["max_locks_per_transaction = 10", "max_connections = 20"],
        });
        var today = WarehouseClock.ServerToday(cluster.ConnectionString());
        var spec = new SampleTenantSourceSpec
        {
            Database = "headroom_src", ReaderUser = "headroom_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = today.AddDays(-14), Days = 15, RowsPerDay = 5,
        };
        await SampleTenantSource.CreateAsync(cluster.ConnectionString(), spec);
        using var shell = new HostedPowerShell();
        var vars = new Dictionary<string, object?>
        {
            ["cs"] = cluster.ConnectionString(), ["wcs"] = cluster.ConnectionString("postgres", "whadmin", PostgresServer.WhadminPassword),
            ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword), ["h"] = cluster.Host, ["p"] = cluster.Port, ["d"] = spec.Database,
            ["c"] = WarehouseScenario.Credential(spec.ReaderUser, spec.ReaderPassword), ["from"] = spec.FirstDay.ToDateTime(TimeOnly.MinValue),
        };
        var setup = shell.Run(
            """
            Connect-WhWarehouse -ConnectionString $cs | Out-Null
            Install-WhWarehouse -Confirm:$false -WhadminCredential $wc -WarningAction SilentlyContinue | Out-Null
            Connect-WhWarehouse -ConnectionString $wcs | Out-Null
            New-WhTenant -Name headroom -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c | Out-Null
            """, vars);
        Assert.True(setup.Succeeded, string.Join(" | ", setup.AllErrors));

        var before = shell.Run("Get-WhWarehouse").Single<WhWarehouse>();
        Assert.Null(before.LockWarning);
        Assert.Equal(200, before.LockCapacity);

        var load = shell.Run("Invoke-WhMvBackfill headroom -Template foodlogstats -From $from -ThrottleLimit 2");
        Assert.True(load.Succeeded, string.Join(" | ", load.AllErrors));
        Assert.DoesNotContain(load.Warnings, w => w.Message.Contains("max_locks_per_transaction"));
        // The public view, the tenant view and <template>_recent with its 3 template indexes and BRIN index.
        Assert.Equal(7, shell.Run("Get-WhWarehouse").Single<WhWarehouse>().LargestViewLocks);

        // The guide's manual public view (step 5 of "Adding a Tenant"), written over the 15 daily views.
        await using (var db = new Npgsql.NpgsqlConnection(cluster.ConnectionString("postgres", "whadmin", PostgresServer.WhadminPassword)))
        {
            await db.OpenAsync();
            await using var view = new Npgsql.NpgsqlCommand(
                """
                DO $$ BEGIN
                  EXECUTE 'CREATE VIEW public.foodlogstats_by_hand AS '
                       || (SELECT string_agg(format('SELECT * FROM headroom.%I', matviewname), ' UNION ALL ' ORDER BY matviewname)
                           FROM pg_matviews WHERE schemaname = 'headroom');
                END $$
                """, db);
            await view.ExecuteNonQueryAsync();
        }

        var after = shell.Run("Get-WhWarehouse");
        var info = after.Single<WhWarehouse>();
        Assert.True(info.LargestViewLocks > 50, $"{info.LargestViewLocks} locks");
        Assert.NotNull(info.LockWarning);
        Assert.Contains(after.Warnings, w => w.Message.Contains("raise max_locks_per_transaction", StringComparison.OrdinalIgnoreCase));
    }
}
