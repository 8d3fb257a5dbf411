using System.Management.Automation;
using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Schedules;

/// <summary>
/// The schedule cmdlets through the hosted engine and the built module, against the test cluster's pg_cron
/// (which only runs in the database phood_warehouse). Every test removes the jobs it made.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class CronJobCmdletTests(PostgresServer server) : IAsyncLifetime
{
    private const string Template = "foodlogstats";
    private string database = "";
    private readonly List<string> tenants = [];

    public async Task InitializeAsync() => database = await server.CronWarehouseAsync();

    public async Task DisposeAsync()
    {
        await using var db = await server.OpenAsync(database, "whadmin");
        foreach (var tenant in tenants) await CronScheduler.UnregisterTenantJobsAsync(db, tenant, default);
    }

    /// <summary>A tenant known only by its connection (named after it), as a first cron run finds it.</summary>
    private async Task<string> NewTenantAsync()
    {
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 20);
        var tenant = PostgresServer.UniqueName("cron");
        tenants.Add(tenant);
        await using var db = await server.OpenAsync(database, "whadmin");
        await using var insert = new NpgsqlCommand(
            "INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES (@t, @h, @p, @d, @u, @pw)", db);
        insert.Parameters.AddWithValue("t", tenant);
        insert.Parameters.AddWithValue("h", source.Host);
        insert.Parameters.AddWithValue("p", source.Port);
        insert.Parameters.AddWithValue("d", source.Database);
        insert.Parameters.AddWithValue("u", source.ReaderUser);
        insert.Parameters.AddWithValue("pw", source.ReaderPassword);
        await insert.ExecuteNonQueryAsync();
        return tenant;
    }

    private HostedPowerShell Connected()
    {
        var shell = new HostedPowerShell();
        var connect = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null",
            new Dictionary<string, object?> { ["cs"] = server.ConnectionString(database, "whadmin") });
        Assert.True(connect.Succeeded, string.Join("; ", connect.AllErrors));
        return shell;
    }

    private string Superuser => server.ConnectionString(database);

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var db = await server.OpenAsync(database);
        return await PostgresServer.Scalar(db, sql);
    }

    private static void AssertOk(ScriptResult result) => Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));

    [Fact]
    public async Task Register_update_by_name_get_disable_enable_unregister()
    {
        var tenant = await NewTenantAsync();
        var name = $"wh_{tenant}_{Template}";
        using var shell = Connected();
        // An hour half a day away on the server's clock (pg_cron's): the next run is the same whenever the test runs.
        var now = await WarehouseClock.ServerUtcNowAsync(Superuser);
        var hour = (now.Hour + 12) % 24;
        var schedule = $"0 {hour} * * *";
        var vars = new Dictionary<string, object?> { ["t"] = tenant, ["n"] = name, ["s"] = schedule };

        var registered = shell.Run("Register-WhCronJob -Tenant $t -Template foodlogstats -Schedule $s", vars);
        AssertOk(registered);
        var job = registered.Single<WhCronJob>();
        Assert.Equal(name, job.Name);
        Assert.Equal(tenant, job.Tenant);
        Assert.Equal(Template, job.Template);
        Assert.Equal(tenant, job.ConnectionName);
        Assert.Equal(schedule, job.Schedule);
        Assert.Equal($"CALL _wh.refresh_recent_by_template('foodlogstats', '{tenant}', '{tenant}', 7)", job.Command);
        Assert.True(job.Active);
        Assert.Equal("GMT", job.TimeZone);
        Assert.Equal("whadmin", job.User);
        Assert.Equal(database, job.Database);
        var expectedNext = now.Date.AddHours(hour) > now ? now.Date.AddHours(hour) : now.Date.AddDays(1).AddHours(hour);
        Assert.Equal(expectedNext, job.NextRunUtc);

        // Same name again: pg_cron updates the job in place (same id), nothing new is scheduled.
        var updated = shell.Run("Register-WhCronJob $t foodlogstats '30 3 * * *' -NoRefreshYesterday", vars).Single<WhCronJob>();
        Assert.Equal(job.JobId, updated.JobId);
        Assert.Equal("30 3 * * *", updated.Schedule);
        Assert.EndsWith("CURRENT_DATE, false)", updated.Command);
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM cron.job WHERE command LIKE '%''{tenant}''%'"));
        Assert.Equal("30 3 * * *", await ScalarAsync($"SELECT schedule FROM cron.job WHERE jobid = {job.JobId}"));
        // Registered again (as the guide's job of an earlier release would be): it moves to the scheduled refresh.
        var moved = shell.Run("Register-WhCronJob $t foodlogstats '30 3 * * *' -LookbackDays 3", vars).Single<WhCronJob>();
        Assert.Equal(job.JobId, moved.JobId);
        Assert.Equal($"CALL _wh.refresh_recent_by_template('foodlogstats', '{tenant}', '{tenant}', 3)", moved.Command);
        Assert.Equal(tenant, moved.Tenant);
        shell.Run("Register-WhCronJob $t foodlogstats '30 3 * * *' -NoRefreshYesterday", vars).Single<WhCronJob>();

        Assert.Equal(job.JobId, shell.Run("Get-WhCronJob -Tenant $t", vars).Single<WhCronJob>().JobId);
        Assert.Equal(job.JobId, shell.Run("Get-WhCronJob \"wh_${t}_*\"", vars).Single<WhCronJob>().JobId);
        var missing = shell.Run("Get-WhCronJob -Name 'no_such_job'");
        Assert.Empty(missing.Output);
        Assert.StartsWith("CronJobNotFound,", missing.FirstError?.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, missing.FirstError!.CategoryInfo.Category);

        var disabled = shell.Run("Get-WhCronJob -Tenant $t | Disable-WhCronJob", vars).Single<WhCronJob>();
        Assert.False(disabled.Active);
        Assert.Null(disabled.NextRunUtc);
        Assert.Equal(false, await ScalarAsync($"SELECT active FROM cron.job WHERE jobid = {job.JobId}"));

        var enabled = shell.Run("Enable-WhCronJob -Name $n", vars).Single<WhCronJob>();
        Assert.True(enabled.Active);
        Assert.NotNull(enabled.NextRunUtc);
        Assert.Equal(true, await ScalarAsync($"SELECT active FROM cron.job WHERE jobid = {job.JobId}"));

        AssertOk(shell.Run("Get-WhCronJob -Name $n | Unregister-WhCronJob -Confirm:$false", vars));
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM cron.job WHERE jobid = {job.JobId}"));
        Assert.StartsWith("CronJobNotFound,", shell.Run("Disable-WhCronJob -Name $n", vars).FirstError?.FullyQualifiedErrorId);
    }

    [Theory]
    [InlineData("61 * * * *", "field 1 (minute)")]
    [InlineData("* * *", "it has 3 fields")]
    [InlineData("", "it is empty")]
    public async Task Invalid_expressions_are_rejected_and_nothing_is_scheduled(string schedule, string why)
    {
        var tenant = await NewTenantAsync();
        using var shell = Connected();
        var before = await CatalogSnapshot.TakeAsync(Superuser);

        var result = shell.Run("Register-WhCronJob -Tenant $t -Template foodlogstats -Schedule $s",
            new Dictionary<string, object?> { ["t"] = tenant, ["s"] = schedule });

        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("InvalidCronExpression,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(schedule, error.TargetObject);
        Assert.Contains(why, error.ToString());
        Assert.Contains("Example", error.ToString());
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(Superuser));
    }

    [Fact]
    public async Task Unknown_tenant_or_template_is_refused_and_nothing_is_scheduled()
    {
        var tenant = await NewTenantAsync();
        using var shell = Connected();
        var before = await CatalogSnapshot.TakeAsync(Superuser);

        var noTenant = shell.Run("Register-WhCronJob -Tenant no_such_tenant -Template foodlogstats -Schedule '0 2 * * *'");
        Assert.StartsWith("TenantNotFound,", noTenant.FirstError?.FullyQualifiedErrorId);
        Assert.Equal("no_such_tenant", noTenant.FirstError!.TargetObject);
        var noTemplate = shell.Run("Register-WhCronJob -Tenant $t -Template no_such_template -Schedule '0 2 * * *'",
            new Dictionary<string, object?> { ["t"] = tenant });
        Assert.StartsWith("TemplateNotFound,", noTemplate.FirstError?.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, noTemplate.FirstError!.CategoryInfo.Category);
        var badName = shell.Run("Register-WhCronJob -Tenant 'x; DROP TABLE y' -Template foodlogstats -Schedule '0 2 * * *'");
        Assert.StartsWith("InvalidTenantName,", badName.FirstError?.FullyQualifiedErrorId);

        Assert.Empty(noTenant.Output.Concat(noTemplate.Output).Concat(badName.Output));
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(Superuser));
    }

    [Fact]
    public async Task WhatIf_schedules_changes_and_deletes_nothing_and_describes_each_step()
    {
        var tenant = await NewTenantAsync();
        using var shell = Connected();
        var name = $"wh_{tenant}_{Template}";
        var command = $"CALL _wh.refresh_recent_by_template('foodlogstats', '{tenant}', '{tenant}', 7)";
        var vars = new Dictionary<string, object?> { ["t"] = tenant };
        var before = await CatalogSnapshot.TakeAsync(Superuser);
        var whatIf = shell.Run("Register-WhCronJob -Tenant $t -Template foodlogstats -Schedule '0 2 * * *' -WhatIf", vars);
        whatIf.AssertSucceeded();
        Assert.Empty(whatIf.Output);
        Assert.Equal([$"schedule cron job '{name}' at '0 2 * * *' (pg_cron time): {command} | {name}"], whatIf.WhatIf);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(Superuser));

        var job = shell.Run("Register-WhCronJob -Tenant $t -Template foodlogstats -Schedule '0 2 * * *'", vars).Single<WhCronJob>();
        var registered = await CatalogSnapshot.TakeAsync(Superuser);
        // Clear-WhCronJobRun counts what whadmin may delete (pg_cron's row level security): asked as whadmin.
        await using var whadmin = await server.OpenAsync(database, "whadmin");
        var history = (long)(await PostgresServer.Scalar(whadmin, "SELECT count(*) FROM cron.job_run_details WHERE end_time < now()"))!;
        var all = shell.Run(
            """
            Register-WhCronJob -Tenant $t -Template foodlogstats -Schedule '5 5 * * *' -WhatIf
            Get-WhCronJob -Tenant $t | Disable-WhCronJob -WhatIf
            Get-WhCronJob -Tenant $t | Enable-WhCronJob -WhatIf
            Get-WhCronJob -Tenant $t | Unregister-WhCronJob -WhatIf
            Clear-WhCronJobRun -OlderThan 0 -WhatIf
            """, vars);
        all.AssertSucceeded();
        Assert.Empty(all.Output);
        Assert.Equal(
            [
                $"update cron job '{name}' (job {job.JobId}): schedule '0 2 * * *' → '5 5 * * *', command: {command} | {name}",
                $"Disable cron job | {name} (job {job.JobId})",
                $"Enable cron job | {name} (job {job.JobId})",
                $"Unregister cron job (0 2 * * *: {command}) | {name} (job {job.JobId})",
                $"Delete {history} cron run history row(s) that ended more than 00:00:00 ago | cron.job_run_details",
            ], all.WhatIf);
        Assert.Equal(registered, await CatalogSnapshot.TakeAsync(Superuser));
    }

    [Fact]
    public async Task The_tenants_jobs_are_the_same_for_Get_and_for_tenant_removal_and_go_inside_the_callers_transaction()
    {
        var a = await NewTenantAsync();
        var b = await NewTenantAsync();
        using var shell = Connected();
        AssertOk(shell.Run(
            """
            Register-WhCronJob -Tenant $a -Template foodlogstats -Schedule '0 2 * * *' | Out-Null
            Register-WhCronJob -Tenant $a -Template foodlogstats -Schedule '0 * * * *' -Name "hourly_$a" | Out-Null
            Register-WhCronJob -Tenant $b -Template foodlogstats -Schedule '0 2 * * *' | Out-Null
            """, new Dictionary<string, object?> { ["a"] = a, ["b"] = b }));
        Assert.Equal(2, shell.Run("Get-WhCronJob -Tenant $a", new Dictionary<string, object?> { ["a"] = a }).Output.Count);

        await using var db = await server.OpenAsync(database, "whadmin");
        await using (var rollback = await db.BeginTransactionAsync())
        {
            Assert.Equal(2, await CronScheduler.UnregisterTenantJobsAsync(db, a, default));
            await rollback.RollbackAsync();
        }
        Assert.Equal(2, shell.Run("Get-WhCronJob -Tenant $a", new Dictionary<string, object?> { ["a"] = a }).Output.Count);
        await using (var commit = await db.BeginTransactionAsync())
        {
            Assert.Equal(2, await CronScheduler.UnregisterTenantJobsAsync(db, a, default));
            await commit.CommitAsync();
        }
        Assert.Empty(shell.Run("Get-WhCronJob -Tenant $a", new Dictionary<string, object?> { ["a"] = a }).Output);
        Assert.Single(shell.Run("Get-WhCronJob -Tenant $b", new Dictionary<string, object?> { ["b"] = b }).Output);
    }

    [Fact]
    public async Task Clear_deletes_only_old_history_and_reports_the_count()
    {
        await using (var admin = await server.OpenAsync(database))
        await using (var insert = new NpgsqlCommand(
            """
            DELETE FROM cron.job_run_details WHERE jobid >= 900000;
            INSERT INTO cron.job_run_details (jobid, runid, database, username, command, status, return_message, start_time, end_time) VALUES
              (900001, nextval('cron.runid_seq'), 'phood_warehouse', 'whadmin', 'SELECT 1', 'succeeded', '1 row', now() - interval '40 days', now() - interval '40 days'),
              (900001, nextval('cron.runid_seq'), 'phood_warehouse', 'whadmin', 'SELECT 1', 'succeeded', '1 row', now() - interval '1 day', now() - interval '1 day'),
              (900002, nextval('cron.runid_seq'), 'phood_warehouse', 'postgres', 'SELECT 1', 'succeeded', '1 row', now() - interval '40 days', now() - interval '40 days');
            """, admin))
            await insert.ExecuteNonQueryAsync();
        try
        {
            using var shell = Connected();
            AssertOk(shell.Run("Clear-WhCronJobRun -OlderThan 30.00:00:00 -WhatIf"));
            Assert.Equal(3L, await ScalarAsync("SELECT count(*) FROM cron.job_run_details WHERE jobid >= 900000"));

            var cleared = shell.Run("Clear-WhCronJobRun -OlderThan ([TimeSpan]::FromDays(30)) -Confirm:$false");
            AssertOk(cleared);
            var result = cleared.Single<WhCronHistoryCleared>();
            Assert.Equal(1, result.Deleted);
            Assert.Equal("whadmin", result.User);
            // whadmin deletes whadmin's history only (pg_cron's row level security); the superuser's row stays.
            Assert.Equal(2L, await ScalarAsync("SELECT count(*) FROM cron.job_run_details WHERE jobid >= 900000"));
            var negative = shell.Run("Clear-WhCronJobRun -OlderThan -1.00:00:00");
            Assert.StartsWith("InvalidOlderThan,", negative.FirstError?.FullyQualifiedErrorId);
        }
        finally
        {
            await using var admin = await server.OpenAsync(database);
            await PostgresServer.Scalar(admin, "DELETE FROM cron.job_run_details WHERE jobid >= 900000");
        }
    }
}
