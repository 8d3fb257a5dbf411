using PhoodWarehouse.Core.Schedules;
using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.Configuration;

/// <summary>Reads the warehouse's configuration (settings, templates, tenants, cron jobs); passwords only when asked for.</summary>
public sealed class ConfigurationExporter(WhConnection connection, ILogger logger)
{
    public async Task<WarehouseConfiguration> ExportAsync(bool includePassword, CancellationToken cancel)
    {
        if (connection.WarehouseVersion is null)
            throw Install.SchemaVersion.NotInstalled(connection, "there is nothing to export");

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var templates = await TemplatesAsync(db, cancel);

        var settings = await WarehouseSettings.ReadAsync(db, cancel);

        var passwords = includePassword ? await PasswordsAsync(db, cancel) : new Dictionary<string, string>();
        var tenants = new List<TenantConfiguration>();
        foreach (var tenant in await new TenantStore(connection, logger).ListAsync([], cancel))
        {
            if (tenant.SourceServer is null || tenant.SourceDatabase is null || tenant.SourceUser is null)
            {
                logger.LogWarning("Tenant {Tenant} has no connection row ({Connection}): left out of the export", tenant.Name, tenant.ConnectionName);
                continue;
            }
            if (includePassword && !passwords.ContainsKey(tenant.ConnectionName))
                logger.LogWarning("No password found for connection {Connection} (user mapping for whadmin on wh_{Connection})", tenant.ConnectionName, tenant.ConnectionName);
            tenants.Add(new TenantConfiguration
            {
                Name = tenant.Name,
                ConnectionName = tenant.ConnectionName,
                ClientName = tenant.ClientName,
                SourceServer = tenant.SourceServer,
                SourcePort = tenant.SourcePort ?? 5432,
                SourceDatabase = tenant.SourceDatabase,
                SourceUser = tenant.SourceUser,
                SourceSslMode = tenant.SourceSslMode,
                SourceChannelBinding = tenant.SourceChannelBinding,
                SourceSslRootCert = tenant.SourceSslRootCert,
                SourcePassword = passwords.GetValueOrDefault(tenant.ConnectionName),
                Templates = tenant.Templates,
                TimeZone = tenant.TimeZone,
                FreshnessSla = tenant.FreshnessSla,
            });
        }

        var jobs = new List<CronJobConfiguration>();
        try
        {
            foreach (var job in await new CronScheduler(connection, logger).GetAsync(new CronJobQuery(), cancel))
            {
                if (job.Name is null || job.Tenant is null || job.Template is null || job.User != "whadmin") continue;
                jobs.Add(new CronJobConfiguration
                {
                    Name = job.Name,
                    Schedule = job.Schedule,
                    Tenant = job.Tenant,
                    Template = job.Template,
                    RefreshYesterday = job.Command != CronJobCommand.Build(job.Template, job.ConnectionName!, job.Tenant, refreshYesterday: false),
                    LookbackDays = CronJobCommand.LookbackDays(job.Command),
                    Active = job.Active,
                });
            }
        }
        catch (WarehouseException error) when (error.ErrorId == "PgCronUnavailable")
        {
            logger.LogInformation("pg_cron is not installed in {Target}: no cron jobs to export", connection.Target);
        }

        return new WarehouseConfiguration
        {
            SchemaVersion = connection.WarehouseVersion,
            Templates = templates,
            Tenants = tenants,
            CronJobs = jobs.OrderBy(j => j.Name, StringComparer.Ordinal).ToList(),
            Settings = settings,
        };
    }

    /// <summary>
    /// Connection name → password, from the user mappings FOR whadmin (pg_user_mappings shows umoptions to the
    /// server's owner, whadmin, and to superusers; nobody else).
    /// </summary>
    /// <summary>Every template as the configuration file holds it, by name: what Export writes and Import compares with.</summary>
    internal static Task<List<TemplateConfiguration>> TemplatesAsync(NpgsqlConnection db, CancellationToken cancel) =>
        Db.ReadAllAsync(db,
            "SELECT template_name, description, query_template, column_definitions, indexes, is_default FROM _wh.mv_templates ORDER BY template_name",
            reader => new TemplateConfiguration
            {
                Name = reader.GetString(0),
                Description = reader.IsDBNull(1) ? null : reader.GetString(1),
                Query = reader.GetString(2),
                Columns = reader.GetString(3),
                Indexes = reader.IsDBNull(4) ? null : reader.GetString(4),
                Default = reader.GetBoolean(5),
            }, cancel);

    private static async Task<Dictionary<string, string>> PasswordsAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var passwords = await Db.ReadAllAsync(db,
            """
            SELECT c.tenant_name, o.option
            FROM _wh.tenant_connections c
            JOIN pg_user_mappings m ON m.srvname = _wh.server_name(c.tenant_name) AND m.usename = 'whadmin'
            CROSS JOIN LATERAL unnest(m.umoptions) AS o(option)
            WHERE o.option LIKE 'password=%'
            """, r => (Tenant: r.GetString(0), Password: r.GetString(1)["password=".Length..]), cancel);
        return passwords.ToDictionary(p => p.Tenant, p => p.Password);
    }
}
