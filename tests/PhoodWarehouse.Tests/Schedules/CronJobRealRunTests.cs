using System.Diagnostics;
using System.Management.Automation;
using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Schedules;

/// <summary>A registered job really runs under pg_cron (the suite's one slow test), and the error path without pg_cron.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class CronJobRealRunTests(PostgresServer server)
{
    [Fact]
    public async Task A_job_registered_every_minute_runs_under_pg_cron_creates_today_and_is_logged()
    {
        var database = await server.CronWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 30);
        var tenant = PostgresServer.UniqueName("cronrun");
        await using var db = await server.OpenAsync(database, "whadmin");
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES (@t, @h, @p, @d, @u, @pw)", db))
        {
            insert.Parameters.AddWithValue("t", tenant);
            insert.Parameters.AddWithValue("h", source.Host);
            insert.Parameters.AddWithValue("p", source.Port);
            insert.Parameters.AddWithValue("d", source.Database);
            insert.Parameters.AddWithValue("u", source.ReaderUser);
            insert.Parameters.AddWithValue("pw", source.ReaderPassword);
            await insert.ExecuteNonQueryAsync();
        }
        using var shell = new HostedPowerShell();
        var vars = new Dictionary<string, object?> { ["cs"] = server.ConnectionString(database, "whadmin"), ["t"] = tenant };
        try
        {
            var registered = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Register-WhCronJob $t foodlogstats '* * * * *'", vars);
            Assert.True(registered.Succeeded, string.Join("; ", registered.AllErrors));
            var job = registered.Single<WhCronJob>();

            // Poll the run history: pg_cron starts the job at the next minute boundary (≤ 60 s), the run takes a second.
            WhCronJobRun? run = null;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(75))
            {
                var runs = shell.Run("Get-WhCronJobRun -Name $n", new Dictionary<string, object?> { ["n"] = job.Name });
                Assert.True(runs.Succeeded, string.Join("; ", runs.AllErrors));
                run = runs.All<WhCronJobRun>().FirstOrDefault(r => r.Status is "succeeded" or "failed");
                if (run is not null) break;
                await Task.Delay(TimeSpan.FromSeconds(2));
            }
            Assert.True(run is not null, $"no finished run of {job.Name} within 75 s");
            Assert.True(run!.Status == "succeeded", $"the run failed: {run.Message}");
            Assert.Equal(job.JobId, run.JobId);
            Assert.NotNull(run.Duration);

            // The monitoring login sees the job and its run (phood_monitor.jobs, issue 30), not pg_cron's tables' rows.
            await using (var monitor = await server.OpenAsync(database, "phood_monitor"))
            await using (var jobs = new NpgsqlCommand("SELECT last_status, runs_24h, failures_24h, last_duration_seconds IS NOT NULL, active FROM jobs WHERE job = @n", monitor))
            {
                jobs.Parameters.AddWithValue("n", job.Name);
                await using var reader = await jobs.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync(), "phood_monitor.jobs has no row for the job");
                Assert.Equal(("succeeded", 0, true, true), (reader.GetString(0), reader.GetInt32(2), reader.GetBoolean(3), reader.GetBoolean(4)));
                Assert.True(reader.GetInt32(1) >= 1);
            }
            // ... and so does Prometheus: phood_job_failures_24h{job} from the real exporter.
            using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                listener.Start();
                var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                using var exporter = Monitoring.PrometheusTests.Exporter.Start(
                    $"postgresql://phood_monitor:{Uri.EscapeDataString(PostgresServer.PhoodMonitorPassword)}@{server.Host}:{server.Port}/{database}?sslmode=disable", port);
                var metrics = await exporter.ScrapeAsync();
                Assert.Equal(0, Assert.Single(metrics, m => m.Name == "phood_job_failures_24h" && m.Labels.GetValueOrDefault("job") == job.Name).Value);
                Assert.True(Assert.Single(metrics, m => m.Name == "phood_job_runs_24h" && m.Labels.GetValueOrDefault("job") == job.Name).Value >= 1);
            }

            await using var check = new NpgsqlCommand(
                """
                SELECT l.action, l.target_date, to_regclass(format('%I.%I', l.tenant_schema, _wh.create_mv_name('foodlogstats', l.target_date))) IS NOT NULL
                FROM _wh.run_log l WHERE l.tenant_schema = @t ORDER BY l.logged_at LIMIT 1
                """, db);
            check.Parameters.AddWithValue("t", tenant);
            await using (var reader = await check.ExecuteReaderAsync())
            {
                Assert.True(await reader.ReadAsync(), "no _wh.run_log row for the tenant");
                Assert.Equal("created", reader.GetString(0));
                Assert.True(reader.GetBoolean(2), "today's daily view does not exist");
            }

            // The tenant now exists: a WhTenant pipes into -Tenant (by value, as its name); same name → same job, updated.
            var repiped = shell.Run("Get-WhTenant $t | Register-WhCronJob -Template foodlogstats -Schedule '0 4 * * *'", vars);
            Assert.True(repiped.Succeeded, string.Join("; ", repiped.AllErrors));
            Assert.Equal(job.JobId, repiped.Single<WhCronJob>().JobId);

            // Remove-WhTenant unschedules the tenant's jobs (the same notion as Get-WhCronJob -Tenant).
            var removed = shell.Run("Remove-WhTenant $t -Confirm:$false; Get-WhCronJob -Tenant $t", vars);
            Assert.True(removed.Succeeded, string.Join("; ", removed.AllErrors));
            Assert.Empty(removed.Output);
        }
        finally
        {
            await CronScheduler.UnregisterTenantJobsAsync(db, tenant, default);
        }
    }

    [Fact]
    public void Without_pg_cron_every_schedule_command_says_how_to_enable_it_and_the_rest_works()
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        using var shell = new HostedPowerShell();
        var install = shell.Run(
            "Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false -WhadminCredential $wc | Out-Null; " +
            "Connect-WhWarehouse -ConnectionString $wcs | Out-Null",
            new Dictionary<string, object?>
            {
                ["cs"] = cluster.ConnectionString(), ["wcs"] = cluster.ConnectionString("postgres", "whadmin", PostgresServer.WhadminPassword),
                ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword),
            });
        Assert.True(install.Succeeded, string.Join("; ", install.AllErrors));

        foreach (var command in new[]
                 {
                     "Register-WhCronJob -Tenant tenant_a -Template foodlogstats -Schedule '0 2 * * *'",
                     "Get-WhCronJob", "Get-WhCronJob -All", "Get-WhCronJobRun", "Enable-WhCronJob -Name x", "Disable-WhCronJob -Name x",
                     "Unregister-WhCronJob -Name x -Confirm:$false", "Clear-WhCronJobRun -OlderThan 1.00:00:00 -Confirm:$false",
                 })
        {
            var result = shell.Run(command);
            var error = Assert.Single(result.AllErrors);
            Assert.StartsWith("PgCronUnavailable,", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.NotInstalled, error.CategoryInfo.Category);
            Assert.Contains("shared_preload_libraries", error.ToString());
            Assert.Contains("cron.database_name = 'postgres'", error.ToString());
            Assert.Contains("Install-WhWarehouse", error.ToString());
            Assert.Empty(result.Output);
        }
        Assert.True(shell.Run("Get-WhWarehouse").Succeeded);
        Assert.True(shell.Run("Get-WhTenant").Succeeded);
    }
}
