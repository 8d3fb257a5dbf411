using PhoodWarehouse.Core.Health;
using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Schedules;

/// <summary>
/// Issue 27, item 2: a warehouse restored from a dump onto another server keeps its pg_cron jobs' old target (cron.job's
/// nodename and nodeport), and they run against the old warehouse. Here the job's port is set to another server's, as
/// a restore leaves it: Get-WhHealth says so (Critical, naming the job and the command that fixes it),
/// Register-WhCronJob with the same name schedules it again on this server, and so does _wh.retarget_cron_jobs().
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class CronJobRetargetTests(PostgresServer server)
{
    [Fact]
    public async Task A_job_that_targets_another_server_is_reported_and_scheduled_again_here()
    {
        var database = await server.CronWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 1);
        using var wh = await WarehouseScenario.StartAsync(server, database);
        var tenant = PostgresServer.UniqueName("retarget");
        wh.AddTenant(tenant, source);
        var variables = new Dictionary<string, object?> { ["t"] = tenant };
        // 29 February at 03:00: the job never fires while the test runs.
        var registered = wh.Run("Register-WhCronJob $t foodlogstats '0 3 29 2 *'", variables);
        Assert.True(registered.Succeeded, string.Join("; ", registered.AllErrors));
        var job = registered.Single<WhCronJob>();
        var superuser = server.ConnectionString(database);
        var port = await SqlKit.ScalarAsync<int>(superuser, "SELECT current_setting('port')::int");
        try
        {
            Assert.Equal(WhHealthStatus.Ok, Failures(wh).Status);
            await SqlKit.ExecAsync(superuser, $"UPDATE cron.job SET nodeport = {port + 1} WHERE jobname = '{job.Name}'");

            var stale = Failures(wh);
            Assert.Equal(WhHealthStatus.Critical, stale.Status);
            Assert.Contains(job.Name, stale.Message);
            Assert.Contains("Register-WhCronJob", stale.Message);

            var again = wh.Run("Register-WhCronJob $t foodlogstats '0 3 29 2 *'", variables);
            Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
            Assert.Contains(again.Warnings, w => w.Message.Contains(job.Name) && w.Message.Contains("scheduled again"));
            Assert.Equal(port, await SqlKit.ScalarAsync<int>(superuser, $"SELECT nodeport FROM cron.job WHERE jobname = '{job.Name}'"));
            Assert.Equal(WhHealthStatus.Ok, Failures(wh).Status);

            // The SQL layer's own repair (every run of functions.sql calls it), with the paused state kept.
            Assert.True(wh.Run("Disable-WhCronJob -Name $n -Confirm:$false", new Dictionary<string, object?> { ["n"] = job.Name }).Succeeded);
            await SqlKit.ExecAsync(superuser, $"UPDATE cron.job SET nodeport = {port + 1} WHERE jobname = '{job.Name}'");
            await using (var db = await SqlKit.OpenAsync(server, database, "whadmin"))
                Assert.Equal([job.Name], await db.ScalarAsync<string[]>("SELECT _wh.retarget_cron_jobs()"));
            Assert.Equal($"{port} False", await SqlKit.ScalarAsync<string>(superuser,
                $"SELECT nodeport || ' ' || CASE WHEN active THEN 'True' ELSE 'False' END FROM cron.job WHERE jobname = '{job.Name}'"));
        }
        finally
        {
            wh.Run("Unregister-WhCronJob -Name $n -Confirm:$false", new Dictionary<string, object?> { ["n"] = job.Name });
        }
    }

    private static WhHealthCheck Failures(WarehouseScenario wh)
    {
        var result = wh.Run("Get-WhHealth -Check CronFailures");
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        return result.Single<WhHealthCheck>();
    }
}
