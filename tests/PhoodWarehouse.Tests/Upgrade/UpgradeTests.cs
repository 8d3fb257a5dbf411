using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.Tests.Upgrade;

/// <summary>
/// A warehouse that an earlier release installed and filled (frozen SQL under tests/upgrade/&lt;version&gt;) is upgraded
/// in place by Install-WhWarehouse and by psql's <c>\i sql/functions.sql</c>, and loses nothing: days of both kinds,
/// tenants, clients, templates, connections with their secrets, grants, cron jobs and the run log.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class UpgradeTests(PostgresServer server)
{
    private const string Database = "phood_warehouse";
    private const int LoadedDays = 40; // more than compact_after_days (31): compaction happened before the upgrade

    [Theory]
    [MemberData(nameof(FrozenRelease.All), MemberType = typeof(FrozenRelease))]
    public async Task A_loaded_warehouse_of_an_earlier_release_upgrades_in_place_and_loses_nothing(string version)
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { CronDatabase = Database });
        var old = await LoadedWarehouse.CreateAsync(cluster, new FrozenRelease(version), Database, withCronJobs: true);
        var before = await UpgradeState.ReadAsync(old.Superuser);
        Assert.Contains(before, line => line.StartsWith("closed up_a.foodlogstats_closed "));
        Assert.Contains(before, line => line.StartsWith("day up_a.foodlogstats_") && line.Contains(" m "));
        Assert.Contains(before, line => line.StartsWith("cron wh_up_b_foodlogstats 30 3 * * * false "));

        using var shell = new HostedPowerShell();
        var variables = old.Variables();
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $whadmin | Out-Null", variables).Succeeded);

        // Before the upgrade the module says what to do: a warning from Get-WhWarehouse, one clear error from the rest.
        var info = shell.Run("Get-WhWarehouse");
        Assert.True(info.Succeeded, string.Join("; ", info.AllErrors));
        var warehouse = info.Single<WhWarehouse>();
        Assert.Equal(WarehouseInstaller.TargetVersion(), warehouse.RequiredSchemaVersion);
        Assert.Equal(SchemaVersion.ModuleVersion, warehouse.ModuleVersion);
        Assert.Contains(info.Warnings, w => w.Message.Contains("Run Install-WhWarehouse"));
        var refused = shell.Run("Get-WhTenant");
        refused.AssertError("SchemaOutdated");
        Assert.Contains("Install-WhWarehouse", refused.FirstError!.ToString());
        Assert.Empty(refused.Output);

        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $superuser | Out-Null", variables).Succeeded);
        var plan = await old.PlanAsync();
        Assert.False(plan.UpToDate);
        Assert.Equal(new FrozenRelease(version).SchemaVersion, plan.InstalledVersion);
        Assert.Contains(plan.Steps, step => step.StartsWith("upgrade the _wh schema"));
        var catalog = await CatalogSnapshot.TakeAsync(old.Superuser);
        var whatIf = shell.Run("Install-WhWarehouse -WhadminCredential $wc -WhatIf", variables);
        whatIf.AssertSucceeded();
        // One description of the whole install, on the warehouse: the in-place upgrade and each of its steps.
        var described = Assert.Single(whatIf.WhatIf);
        Assert.EndsWith($" | {plan.Target}", described);
        Assert.Contains($"upgrade the _wh schema {plan.InstalledVersion} -> {WarehouseInstaller.TargetVersion()} in place", described);
        Assert.All(UpgradeSteps.For(plan.InstalledVersion!), step => Assert.Contains(step, described));
        Assert.Equal(catalog, await CatalogSnapshot.TakeAsync(old.Superuser));

        var upgrade = shell.Run("Install-WhWarehouse -WhadminCredential $wc -Confirm:$false", variables);
        Assert.True(upgrade.Succeeded, string.Join("; ", upgrade.AllErrors));
        var result = upgrade.Single<WhInstallResult>();
        Assert.Equal("Upgraded", result.Action);
        Assert.Equal(WarehouseInstaller.TargetVersion(), result.SchemaVersion);
        Assert.Equal("UpToDate", shell.Run("Install-WhWarehouse -WhadminCredential $wc -Confirm:$false", variables).Single<WhInstallResult>().Action);
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $whadmin | Out-Null", variables).Succeeded);
        var current = shell.Run("Get-WhWarehouse");
        Assert.Empty(current.Warnings);
        Assert.Null(current.Single<WhWarehouse>().SchemaWarning);

        Assert.Equal(before, await UpgradeState.ReadAsync(old.Superuser));
        // Register-WhCronJob's jobs now run the scheduled entry point (same name, schedule and paused state, checked
        // above); a DBA's own job keeps its command.
        Assert.Equal(
            [
                "dba_nightly_check SELECT count(*) FROM _wh.run_log",
                "wh_up_a_foodlogstats CALL _wh.refresh_recent_by_template('foodlogstats', 'up_a_conn', 'up_a', 7)",
                "wh_up_b_foodlogstats CALL _wh.refresh_recent_by_template('foodlogstats', 'up_b_conn', 'up_b', 7)",
            ],
            await old.CronCommandsAsync());
        // The steps declared for this release (none when the releases since changed routines only), each listed by -WhatIf.
        var declared = UpgradeSteps.For(new FrozenRelease(version).SchemaVersion);
        Assert.Equal(declared.Select(step => "  upgrade step: " + step), plan.Steps.Where(step => step.StartsWith("  upgrade step: ")));

        // The connections kept their secrets: a refresh reaches the source with no password entered again.
        await old.AddSourceRowsAsync("up_a", old.Today, 3);
        var refresh = shell.Run("Invoke-WhMvBackfill -Tenant up_a -Template foodlogstats -From $today", variables);
        Assert.True(refresh.Succeeded, string.Join("; ", refresh.AllErrors));
        Assert.Equal(MvAction.Refreshed, refresh.Single<WhMvResult>().Action);
        Assert.Equal(await old.SourceRowsAsync("up_a", old.Today), await old.WarehouseRowsAsync("up_a", old.Today));

        // New days load after the upgrade: the gap the old release left, straight into the compacted table.
        var gap = shell.Run("Invoke-WhMvBackfill -Tenant up_a, up_b -Template foodlogstats -From $gapFrom -To $gapTo", variables);
        Assert.True(gap.Succeeded, string.Join("; ", gap.AllErrors));
        Assert.All(gap.All<WhMvResult>(), day => Assert.Equal(MvAction.Created, day.Action));
        foreach (var tenant in new[] { "up_a", "up_b" })
        foreach (var day in old.GapDays)
            Assert.Equal(await old.SourceRowsAsync(tenant, day), await old.WarehouseRowsAsync(tenant, day));

        // Days a release before 2.0.0 (no capture times yet) loaded have an unknown capture time: the first check verifies
        // every one of them. Later releases recorded their captures, which the upgrade keeps.
        var unknown = await old.CountAsync(
            "SELECT count(*) FROM _wh.daily_views WHERE schema_name = 'up_b' AND captured_at IS NULL");
        if (System.Version.Parse(new FrozenRelease(version).SchemaVersion) < new System.Version(2, 0, 0))
            Assert.True(unknown >= LoadedWarehouse.Days - 2, $"{unknown} days of up_b have an unknown capture time");
        else
            Assert.Equal(0L, unknown);
        variables["first"] = old.Today.AddDays(-(LoadedWarehouse.Days - 1)).ToDateTime(TimeOnly.MinValue);
        var check = shell.Run("Test-WhMv -Tenant up_a, up_b -Template foodlogstats -From $first -To $today", variables);
        Assert.True(check.Succeeded, string.Join("; ", check.AllErrors));
        var checks = check.All<WhMvCheck>();
        Assert.Equal(2 * LoadedWarehouse.Days, checks.Count);
        Assert.All(checks, c => Assert.Equal(MvCheckStatus.Match, c.Status));
    }

    [Theory]
    [MemberData(nameof(FrozenRelease.All), MemberType = typeof(FrozenRelease))]
    public async Task An_upgrade_stopped_midway_leaves_the_earlier_release_working_as_before(string version)
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        var old = await LoadedWarehouse.CreateAsync(cluster, new FrozenRelease(version), "wh_stopped", withCronJobs: false);
        // The superuser part first (roles, extensions, grants: complete and idempotent on its own), then the _wh part
        // as whadmin, which is the one that must roll back whole.
        using (var prepare = new HostedPowerShell())
        {
            var prepared = prepare.Run("Connect-WhWarehouse -ConnectionString $superuser | Out-Null; Install-WhWarehouse -Confirm:$false", old.Variables());
            Assert.True(prepared.Succeeded, string.Join("; ", prepared.AllErrors));
        }
        var before = await UpgradeState.ReadAsync(old.Superuser);
        var catalog = await CatalogSnapshot.TakeAsync(old.Superuser);

        // The last thing an upgrade writes is the schema version: hold that row, so the upgrade has done everything
        // else in its transaction when it waits, then stop it as Ctrl+C does.
        await using var holder = new NpgsqlConnection(old.Whadmin);
        await holder.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version' FOR UPDATE", holder, hold))
            await lockRow.ExecuteNonQueryAsync();

        using var shell = new HostedPowerShell();
        var variables = old.Variables();
        Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $whadmin | Out-Null", variables).Succeeded);
        var blocked = false;
        var stopped = shell.RunAndStop("Install-WhWarehouse -Confirm:$false", () => blocked = old.InstallIsWaitingOnALock(),
            TimeSpan.FromSeconds(120));
        Assert.True(blocked, "the upgrade reached the schema-version row and waited for it");
        Assert.Empty(stopped.Output);
        await hold.RollbackAsync();

        Assert.Equal(before, await UpgradeState.ReadAsync(old.Superuser));
        Assert.Equal(catalog, await CatalogSnapshot.TakeAsync(old.Superuser));
        // Still the old release, and it still works: today's view refreshes through the old function.
        await old.AddSourceRowsAsync("up_a", old.Today, 2);
        await using var wh = new NpgsqlConnection(old.Whadmin);
        await wh.OpenAsync();
        await using var refresh = new NpgsqlCommand(
            "SELECT _wh.update_mv_by_template('foodlogstats', 'up_a_conn', 'up_a', current_date)->>'action'", wh);
        Assert.Equal("refreshed", await refresh.ExecuteScalarAsync());
        Assert.Equal(await old.SourceRowsAsync("up_a", old.Today), await old.WarehouseRowsAsync("up_a", old.Today));
    }

    [Theory]
    [MemberData(nameof(FrozenRelease.All), MemberType = typeof(FrozenRelease))]
    public async Task Psql_and_Install_WhWarehouse_upgrade_to_the_same_schema_as_a_fresh_install(string version)
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        var release = new FrozenRelease(version);
        var byPsql = await LoadedWarehouse.CreateAsync(cluster, release, "wh_by_psql", withCronJobs: false);
        var byModule = await LoadedWarehouse.CreateAsync(cluster, release, "wh_by_module", withCronJobs: false);
        var before = await UpgradeState.ReadAsync(byPsql.Superuser);

        // The fresh install first: its admin part creates the cluster's roles that this release adds (phood_monitor), as a
        // DBA's create.sql does before an upgrade; whadmin's functions.sql then grants them what it grants a fresh install.
        var fresh = "wh_fresh";
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString()))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {fresh}", admin);
            await create.ExecuteNonQueryAsync();
        }
        using (var shell = new HostedPowerShell())
        {
            var install = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -WhadminCredential $wc -Confirm:$false",
                new Dictionary<string, object?> { ["cs"] = cluster.ConnectionString(fresh), ["wc"] = LoadedWarehouse.WhadminCredential });
            Assert.True(install.Succeeded, string.Join("; ", install.AllErrors));
        }

        var psql = await SqlKit.PsqlAsync(cluster, RepositoryPaths.Root, "wh_by_psql", "whadmin",
            "\\i sql/functions.sql\n\\i sql/template-foodlogstats.sql\n",
            new Dictionary<string, string> { ["whadmin"] = PostgresServer.WhadminPassword });
        psql.AssertSucceeded();
        Assert.Equal(before, await UpgradeState.ReadAsync(byPsql.Superuser));

        using (var shell = new HostedPowerShell())
        {
            Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $superuser | Out-Null", byModule.Variables()).Succeeded);
            var upgrade = shell.Run("Install-WhWarehouse -WhadminCredential $wc -Confirm:$false", byModule.Variables());
            Assert.True(upgrade.Succeeded, string.Join("; ", upgrade.AllErrors));
        }

        var expected = await UpgradeState.SchemaShapeAsync(cluster.ConnectionString(fresh));
        Assert.Equal(expected, await UpgradeState.SchemaShapeAsync(byPsql.Superuser));
        Assert.Equal(expected, await UpgradeState.SchemaShapeAsync(byModule.Superuser));
    }
}
