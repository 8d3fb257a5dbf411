using Npgsql;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>The tenant's pg_cron jobs: those whose command refreshes a day of that tenant's schema.</summary>
internal static class TenantCronJobs
{
    private const string TenantJobs =
        """
        SELECT jobid, jobname FROM cron.job
        WHERE command ~ '_wh\.update_mv_by_template\(' AND command ~ ('''' || @s || '''')
        ORDER BY jobname
        """;

    public static async Task<IReadOnlyList<string>> ListAsync(NpgsqlConnection db, string schema, CancellationToken cancel)
    {
        var jobs = new List<string>();
        if (!await CronReadableAsync(db, cancel)) return jobs;
        await using var command = Db.Command(db, TenantJobs, ("s", schema));
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel)) jobs.Add(reader.IsDBNull(1) ? $"job {reader.GetInt64(0)}" : reader.GetString(1));
        return jobs;
    }

    public static async Task UnscheduleAsync(NpgsqlConnection db, string schema, CancellationToken cancel)
    {
        if (!await CronReadableAsync(db, cancel)) return;
        await Db.ExecuteAsync(db, $"SELECT cron.unschedule(jobid) FROM ({TenantJobs}) AS j", cancel, ("s", schema));
    }

    private static Task<bool> CronReadableAsync(NpgsqlConnection db, CancellationToken cancel) =>
        Db.ScalarAsync<bool>(db,
            "SELECT EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_cron' AND has_schema_privilege(n.oid, 'USAGE'))",
            cancel);
}
