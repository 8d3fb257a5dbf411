using System.Diagnostics;
using PhoodWarehouse.Core.DailyViews;
using PhoodWarehouse.Core.Health;
using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Managed;

/// <summary>
/// Issue 25: on a managed server (<see cref="ManagedPostgresServer"/>: an admin that is not a superuser), the admin
/// installs with Install-WhWarehouse, needing no membership in whadmin, and whadmin then runs the main journeys:
/// a tenant, a backfill, a check and a repair, Get-WhHealth (Replicas with the provider's read replica), an export and
/// its import into a new database, a real pg_cron run, the tenant's removal.
/// </summary>
public sealed class ManagedInstallTests(ManagedPostgresServer server) : IClassFixture<ManagedPostgresServer>
{
    [Fact]
    public async Task The_admin_installs_with_Install_WhWarehouse_a_rerun_is_UpToDate_and_whadmin_runs_the_main_journeys()
    {
        var database = await server.AdminCreateDatabaseAsync("phood_warehouse");
        var observer = server.ConnectionString(database); // the lab superuser, for the test's own checks only
        using var shell = new HostedPowerShell();
        var admin = new Dictionary<string, object?>
        {
            ["cs"] = server.AdminConnectionString(database),
            ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
        };
        var connect = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", admin);
        connect.AssertSucceeded();
        Assert.Contains(connect.Warnings, w => w.Message.Contains("whadmin"));

        // -WhatIf: the truth about pg_cron (preloaded here), whadmin created with the credential's password; nothing changes.
        var before = await CatalogSnapshot.TakeAsync(observer);
        var whatIf = shell.Run("Install-WhWarehouse -WhatIf -WhadminCredential $wc", admin);
        whatIf.AssertSucceeded();
        var planned = string.Join("\n", whatIf.WhatIf);
        Assert.Contains("create roles, extensions and grants as master", planned);
        Assert.Contains("create whadmin with the password of -WhadminCredential", planned);
        Assert.DoesNotContain(whatIf.Warnings, w => w.Message.Contains("pg_cron"));
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(observer));

        var install = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", admin);
        Assert.True(install.Succeeded, string.Join("; ", install.AllErrors));
        Assert.Equal("Installed", install.Single<WhInstallResult>().Action);
        Assert.DoesNotContain(install.Warnings, w => w.Message.Contains("pg_cron"));
        var again = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", admin);
        Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
        Assert.Equal("UpToDate", again.Single<WhInstallResult>().Action);

        await ManagedChecks.AssertRolesStayInTheirLanesAsync(observer);

        // whadmin's day, over its own login.
        var source = await server.CreateTenantSourceAsync(days: 5, rowsPerDay: 20);
        using var wh = await WarehouseScenario.StartAsync(server, database);
        wh.AddTenant("mgd_a", source);
        var backfill = wh.Run("Invoke-WhMvBackfill -Tenant mgd_a -Template foodlogstats -From ($WarehouseToday.AddDays(-4))");
        Assert.True(backfill.Succeeded, string.Join("; ", backfill.AllErrors));
        Assert.Equal(5, backfill.All<WhMvResult>().Count(r => r.Action != MvAction.Failed));

        var changed = source.FirstDay.AddDays(1);
        await server.ExecuteAsync(source.Database,
            $"UPDATE phood_foodlogsum SET cost = cost + 1 WHERE id = (SELECT min(id) FROM phood_foodlogsum WHERE logged_time::date = '{changed:yyyy-MM-dd}')");
        var window = new Dictionary<string, object?> { ["f"] = source.FirstDay.ToDateTime(TimeOnly.MinValue), ["t"] = source.FirstDay.AddDays(3).ToDateTime(TimeOnly.MinValue) };
        var check = wh.Run("Test-WhMv -Tenant mgd_a -Template foodlogstats -From $f -To $t", window);
        Assert.True(check.Succeeded, string.Join("; ", check.AllErrors));
        Assert.Equal([DateOnly.FromDateTime(changed.ToDateTime(TimeOnly.MinValue))],
            check.All<WhMvCheck>().Where(c => c.Status != MvCheckStatus.Match).Select(c => DateOnly.FromDateTime(c.Date)));
        var repair = wh.Run("Test-WhMv -Tenant mgd_a -Template foodlogstats -From $f -To $t | Repair-WhMv -Confirm:$false", window);
        Assert.True(repair.Succeeded, string.Join("; ", repair.AllErrors));
        var recheck = wh.Run("Test-WhMv -Tenant mgd_a -Template foodlogstats -From $f -To $t", window);
        Assert.All(recheck.All<WhMvCheck>(), c => Assert.Equal(MvCheckStatus.Match, c.Status));

        var health = wh.Run("Get-WhHealth");
        Assert.True(health.Succeeded, string.Join("; ", health.AllErrors));
        Assert.NotEmpty(health.All<WhHealthCheck>());

        // The provider's read replica: whadmin sees it through public.wh_streaming_replicas(), the admin's function.
        using (var standby = server.Cluster!.StartStandby())
        {
            IReadOnlyList<WhHealthCheck> replicas = [];
            for (var attempt = 0; attempt < 150 && !replicas.Any(r => r.Value.Contains("hot_standby_feedback on")); attempt++)
            {
                if (attempt > 0) await Task.Delay(200);
                var result = wh.Run("Get-WhHealth -Check Replicas");
                Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
                replicas = result.All<WhHealthCheck>();
            }
            var replica = Assert.Single(replicas);
            Assert.Equal(WhHealthStatus.Ok, replica.Status);
            Assert.Equal($"standby_{standby.Port}", replica.Target);
        }

        // Export, then a restore into a new database the admin prepares and whadmin imports into.
        var file = Path.Combine(Path.GetTempPath(), PostgresServer.UniqueName("managed") + ".json");
        try
        {
            var export = wh.Run("Export-WhConfiguration -Path $p", new Dictionary<string, object?> { ["p"] = file });
            Assert.True(export.Succeeded, string.Join("; ", export.AllErrors));
            Assert.Contains("mgd_a", File.ReadAllText(file));

            var restore = await server.AdminCreateDatabaseAsync("phood_restore");
            var prepared = shell.Run("Connect-WhWarehouse -ConnectionString $r | Out-Null; Install-WhWarehouse -Confirm:$false",
                new Dictionary<string, object?> { ["r"] = server.AdminConnectionString(restore) });
            Assert.True(prepared.Succeeded, string.Join("; ", prepared.AllErrors));
            Assert.Equal("Prepared", prepared.Single<WhInstallResult>().Action);
            using var restored = new HostedPowerShell();
            var variables = WarehouseScenario.SourceVariables(source);
            variables["cs"] = server.ConnectionString(restore, "whadmin");
            variables["p"] = file;
            var import = restored.Run(
                "Connect-WhWarehouse -ConnectionString $cs | Out-Null; Import-WhConfiguration -Path $p -SourceCredential $c -Confirm:$false | Out-Null; Get-WhTenant",
                variables);
            Assert.True(import.Succeeded, string.Join("; ", import.AllErrors));
            Assert.Equal(["mgd_a"], import.All<WhTenant>().Select(t => t.Name));
        }
        finally
        {
            File.Delete(file);
        }

        // A real pg_cron run, as whadmin, on the managed server (jobs connect over the provider's socket).
        var registered = wh.Run("Register-WhCronJob mgd_a foodlogstats '* * * * *'");
        Assert.True(registered.Succeeded, string.Join("; ", registered.AllErrors));
        var job = registered.Single<WhCronJob>();
        WhCronJobRun? run = null;
        var clock = Stopwatch.StartNew();
        while (run is null && clock.Elapsed < TimeSpan.FromSeconds(75))
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            run = wh.Run("Get-WhCronJobRun -Name $n", new Dictionary<string, object?> { ["n"] = job.Name })
                .All<WhCronJobRun>().FirstOrDefault(r => r.Status is "succeeded" or "failed");
        }
        Assert.True(run is not null, $"no finished run of {job.Name} within 75 s");
        Assert.True(run!.Status == "succeeded", $"the run failed: {run.Message}");

        var removed = wh.Run("Remove-WhTenant mgd_a -Confirm:$false; Get-WhCronJob -Tenant mgd_a");
        Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
        Assert.Empty(removed.Output);
        await using var su = new NpgsqlConnection(observer);
        await su.OpenAsync();
        Assert.False((bool)(await PostgresServer.Scalar(su, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'mgd_a')"))!);
    }
}

/// <summary>What both install routes must leave on a managed server, read by the lab superuser.</summary>
internal static class ManagedChecks
{
    public static async Task AssertRolesStayInTheirLanesAsync(string observerConnectionString)
    {
        await using var su = new NpgsqlConnection(observerConnectionString);
        await su.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT r.rolname::text, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
                   (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
            FROM pg_roles r WHERE r.rolname IN ('phood_monitor', 'phood_ro', 'whadmin') ORDER BY 1
            """, su);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var rows = 0;
            while (await reader.ReadAsync())
            {
                rows++;
                var name = reader.GetString(0);
                Assert.False(reader.GetBoolean(1), $"{name} is a superuser");
                Assert.False(reader.GetBoolean(2), $"{name} has CREATEROLE");
                Assert.False(reader.GetBoolean(3), $"{name} has CREATEDB");
                Assert.Equal(0L, reader.GetInt64(4));
            }
            Assert.Equal(3, rows);
        }
        // The monitoring login: CONNECT, its own schema in its search_path, the five monitoring views and nothing else
        // (pg_cron grants its tables to PUBLIC, and its row security shows a login its own jobs only: phood_monitor has none).
        Assert.Equal("phood_monitor.days, phood_monitor.freshness, phood_monitor.jobs, phood_monitor.replicas, phood_monitor.warehouse", await PostgresServer.Scalar(su,
            """
            SELECT string_agg(n.nspname || '.' || c.relname, ', ' ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'cron') AND has_table_privilege('phood_monitor', c.oid, 'SELECT')
            """));
        Assert.True((bool)(await PostgresServer.Scalar(su,
            "SELECT has_database_privilege('phood_monitor', current_database(), 'CONNECT') AND NOT has_schema_privilege('phood_monitor', '_wh', 'USAGE')"))!);
        Assert.Equal("search_path=phood_monitor", await PostgresServer.Scalar(su,
            "SELECT c FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setrole = 'phood_monitor'::regrole AND s.setdatabase = 0 AND c LIKE 'search_path=%'"));
        Assert.False((bool)(await PostgresServer.Scalar(su, "SELECT pg_has_role('master', 'whadmin', 'MEMBER')"))!,
            "the admin became a member of whadmin");
        Assert.Equal("whadmin", await PostgresServer.Scalar(su, "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = '_wh'"));
        Assert.False((bool)(await PostgresServer.Scalar(su,
            "SELECT bool_or(has_function_privilege(r, p.oid, 'EXECUTE')) FROM pg_proc p, unnest(ARRAY['whadmin', 'phood_ro', 'phood_monitor', 'public']) r WHERE p.proname ~ '^dblink.*_u$'"))!,
            "an unsafe dblink function (dblink_connect_u) is executable");
        Assert.True((bool)(await PostgresServer.Scalar(su, "SELECT has_function_privilege('whadmin', 'dblink_connect(text,text)', 'EXECUTE')"))!);
        Assert.True((bool)(await PostgresServer.Scalar(su,
            "SELECT coalesce((SELECT has_schema_privilege('whadmin', n.oid, 'USAGE') FROM pg_namespace n WHERE n.nspname = 'cron'), true)"))!);
        Assert.Equal("off", await PostgresServer.Scalar(su,
            "SELECT split_part(c, '=', 2) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setrole = 'whadmin'::regrole AND c LIKE 'jit=%'"));
    }
}
