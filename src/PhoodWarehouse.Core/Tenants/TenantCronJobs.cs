using Npgsql;
using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// The tenant's pg_cron jobs, as the schedule commands define them (<see cref="CronJobCommand"/>): refresh jobs
/// whose command names the tenant's schema as its third argument. One notion for Get-WhCronJob -Tenant and Remove-WhTenant.
/// </summary>
internal static class TenantCronJobs
{
    public static async Task<IReadOnlyList<string>> ListAsync(NpgsqlConnection db, string schema, CancellationToken cancel) =>
        (await CronScheduler.ListTenantJobsAsync(db, schema, cancel)).Select(job => job.ToString()).ToList();

    public static Task UnscheduleAsync(NpgsqlConnection db, string schema, CancellationToken cancel) =>
        CronScheduler.UnregisterTenantJobsAsync(db, schema, cancel);
}
