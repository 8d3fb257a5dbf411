using PhoodWarehouse.Core.Install;
using PhoodWarehouse.Core.Schedules;
using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.Configuration;

/// <summary>
/// The guide's "Complete Warehouse Rebuild" from a configuration file, in phases that each depend on the one before:
/// install, templates, tenants, cron jobs. Each phase is planned against the warehouse as it is when the phase starts,
/// so a caller applies (or, for -WhatIf, describes) one phase before planning the next. What already matches is left alone.
/// </summary>
public sealed class ConfigurationImporter(WhConnection connection, ILogger logger)
{
    public async Task<ImportStep> PlanInstallAsync(WarehouseConfiguration configuration, CancellationToken cancel)
    {
        if (connection.WarehouseVersion is { } version)
        {
            var note = configuration.SchemaVersion is { } fileVersion && fileVersion != version
                ? $"installed at {version}; the file was exported from {fileVersion} (Install-WhWarehouse upgrades)"
                : $"installed at {version}";
            return new ImportStep(new WhImportResult("Warehouse", connection.Database, ImportAction.Unchanged, note), null, null);
        }
        var installer = new WarehouseInstaller(connection, logger);
        var plan = await installer.PlanAsync(cancel); // as whadmin without the superuser part: a clear SuperuserRequired error
        return new ImportStep(
            new WhImportResult("Warehouse", connection.Database, ImportAction.Created, $"install the warehouse {plan.TargetVersion}"),
            string.Join("; ", plan.Steps),
            async token =>
            {
                var result = await installer.InstallAsync(plan, token);
                var notes = result.Notes.Count == 0 ? "" : " " + string.Join(" ", result.Notes);
                return new WhImportResult("Warehouse", connection.Database, ImportAction.Created, $"installed {result.SchemaVersion}{(result.PgCron ? " with pg_cron" : "")}.{notes}");
            });
    }

    /// <summary>
    /// The warehouse's settings as the file has them (timeouts, retention, compaction: <c>_wh.settings()</c>), one step
    /// per setting that differs, applied through <c>_wh.set_setting</c> (which checks the value). A file of an older
    /// export has none: nothing to do.
    /// </summary>
    public async Task<IReadOnlyList<ImportStep>> PlanSettingsAsync(WarehouseConfiguration configuration, CancellationToken cancel)
    {
        if (configuration.Settings is not { Count: > 0 } wanted) return [];
        // A database still to be installed (a -WhatIf before a restore) will start from the install's defaults.
        var current = new Dictionary<string, string>(Install.SqlScripts.SettingDefaults(), StringComparer.Ordinal);
        await using (var db = await connection.DataSource.OpenConnectionAsync(cancel))
            if (await InstalledAsync(db, cancel))
                foreach (var (key, value) in await WarehouseSettings.ReadAsync(db, cancel)) current[key] = value;

        var steps = new List<ImportStep>();
        foreach (var (key, value) in wanted)
        {
            // A setting that matches is no news (a new warehouse has most at their defaults): only changes are listed.
            var now = current.GetValueOrDefault(key);
            if (now == value) continue;
            var message = now is null ? $"set to {value}" : $"{now} -> {value}";
            steps.Add(new ImportStep(new WhImportResult("Setting", key, ImportAction.Updated, message),
                $"set warehouse setting {key}: {message}",
                async token =>
                {
                    await using var write = await connection.DataSource.OpenConnectionAsync(token);
                    await using var transaction = await Db.BeginAsWhadminAsync(write, connection, token);
                    await Db.ExecuteAsync(write, "SELECT _wh.set_setting(@k, @v)", token, ("k", key), ("v", value));
                    await transaction.CommitAsync(token);
                    logger.LogInformation("Setting {Key}: {Message}", key, message);
                    return new WhImportResult("Setting", key, ImportAction.Updated, message);
                }));
        }
        return steps;
    }

    public async Task<IReadOnlyList<ImportStep>> PlanTemplatesAsync(WarehouseConfiguration configuration, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var existing = await InstalledAsync(db, cancel)
            ? (await ConfigurationExporter.TemplatesAsync(db, cancel)).ToDictionary(t => t.Name)
            : new Dictionary<string, TemplateConfiguration>();

        var steps = new List<ImportStep>();
        foreach (var file in configuration.Templates)
        {
            // A file from before 0.4.0 says nothing of defaults: an existing template keeps its mark, a new one is a
            // default (every template was one then).
            var template = file.Default is null ? file with { Default = existing.TryGetValue(file.Name, out var kept) ? kept.Default : true } : file;
            if (existing.TryGetValue(template.Name, out var current) && current == template)
            {
                steps.Add(Done("Template", template.Name, ImportAction.Unchanged, "matches the file"));
                continue;
            }
            var action = current is null ? ImportAction.Created : ImportAction.Updated;
            var changed = current is null ? "" : Differences(current, template);
            var message = current is null ? "added" : $"updated ({changed}); existing daily views keep their definition until rebuilt (Invoke-WhMvBackfill -Force)";
            steps.Add(new ImportStep(new WhImportResult("Template", template.Name, action, message),
                current is null ? $"add template {template.Name}" : $"update template {template.Name}: {changed}",
                async token =>
                {
                    await using var write = await connection.DataSource.OpenConnectionAsync(token);
                    await using var transaction = await Db.BeginAsWhadminAsync(write, connection, token);
                    await Db.ExecuteAsync(write,
                        """
                        INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes, is_default)
                        VALUES (@n, @d, @q, @c, @i, @def)
                        ON CONFLICT (template_name) DO UPDATE SET description = EXCLUDED.description, query_template = EXCLUDED.query_template,
                            column_definitions = EXCLUDED.column_definitions, indexes = EXCLUDED.indexes, is_default = EXCLUDED.is_default
                        """, token, ("n", template.Name), ("d", template.Description), ("q", template.Query), ("c", template.Columns), ("i", template.Indexes),
                        ("def", template.Default ?? true));
                    await transaction.CommitAsync(token);
                    logger.LogInformation("Template {Template}: {Action}", template.Name, action);
                    return new WhImportResult("Template", template.Name, action, message);
                }));
        }
        return steps;
    }

    public async Task<IReadOnlyList<ImportStep>> PlanTenantsAsync(WarehouseConfiguration configuration, Func<TenantConfiguration, SourceLogin?> login, CancellationToken cancel)
    {
        var store = new TenantStore(connection, logger);
        var existing = new Dictionary<string, WhTenant>();
        bool installed;
        await using (var db = await connection.DataSource.OpenConnectionAsync(cancel))
            installed = await InstalledAsync(db, cancel);
        if (installed)
            foreach (var tenant in await store.ListAsync([], cancel)) existing[tenant.Name] = tenant;

        var steps = new List<ImportStep>();
        // Connections this import creates, by name: a later tenant of the file on the same one shares it.
        var planned = new Dictionary<string, (string Source, string Tenant)>(StringComparer.Ordinal);
        foreach (var tenant in configuration.Tenants)
        {
            if (existing.TryGetValue(tenant.Name, out var current))
            {
                var differences = Differences(current, tenant);
                steps.Add(differences.Length == 0
                    ? Done("Tenant", tenant.Name, ImportAction.Unchanged, "matches the file")
                    : Done("Tenant", tenant.Name, ImportAction.Skipped,
                        $"exists and differs from the file ({differences}); left as it is: change it with Set-WhTenant if the file is right"));
                continue;
            }
            var credential = login(tenant);
            if (credential is null)
            {
                steps.Add(Done("Tenant", tenant.Name, ImportAction.Skipped,
                    $"no password for {tenant.SourceUser}@{tenant.SourceServer}:{tenant.SourcePort}/{tenant.SourceDatabase}: give -SourceCredential or -CredentialMap @{{ {tenant.Name} = <PSCredential> }}"));
                continue;
            }
            var request = new NewTenantRequest
            {
                Name = tenant.Name,
                ConnectionName = tenant.ConnectionName,
                ClientName = tenant.ClientName,
                SourceServer = tenant.SourceServer,
                SourcePort = tenant.SourcePort,
                SourceDatabase = tenant.SourceDatabase,
                SourceSslMode = tenant.SourceSslMode,
                SourceChannelBinding = tenant.SourceChannelBinding,
                SourceSslRootCert = tenant.SourceSslRootCert,
                SourceUser = credential.User,
                SourcePassword = credential.Password,
                Templates = tenant.Templates,
                TimeZone = tenant.TimeZone,
                FreshnessSla = tenant.FreshnessSla,
            };
            var userNote = credential.User == tenant.SourceUser ? "" : $" (as {credential.User}, the credential's user; the file says {tenant.SourceUser})";
            var message = $"created: {tenant.SourceServer}:{tenant.SourcePort}/{tenant.SourceDatabase}{userNote}";
            // What New-WhTenant would do, or the refusal it would meet, known before anything changes (-WhatIf says it).
            var source = $"{request.SourceServer}:{request.SourcePort}/{request.SourceDatabase} as {request.SourceUser}";
            IReadOnlyList<string> plan;
            try
            {
                if (planned.TryGetValue(tenant.ConnectionName, out var first) && first.Source != source)
                    throw new WarehouseException("ConnectionExists", WhErrorKind.ResourceExists,
                        $"the file gives connection '{tenant.ConnectionName}' another source than tenant {first.Tenant} does ({first.Source}): fix the file", tenant.Name);
                // A database still to be installed holds nothing yet.
                plan = planned.TryGetValue(tenant.ConnectionName, out var sharing)
                    ? TenantStore.Steps(request, new TenantStore.ExistingParts(false, true, sharing.Tenant))
                    : installed ? await store.PlanCreateAsync(request, cancel) : TenantStore.Steps(request, new TenantStore.ExistingParts(false, false, null));
            }
            catch (WarehouseException refused)
            {
                steps.Add(Done("Tenant", tenant.Name, ImportAction.Skipped, $"not created: {refused.Message}"));
                continue;
            }
            planned.TryAdd(tenant.ConnectionName, (source, tenant.Name));
            steps.Add(new ImportStep(new WhImportResult("Tenant", tenant.Name, ImportAction.Created, message),
                string.Join("; ", plan),
                async token =>
                {
                    await store.CreateAsync(request, token);
                    return new WhImportResult("Tenant", tenant.Name, ImportAction.Created, message);
                }));
        }
        return steps;
    }

    public async Task<IReadOnlyList<ImportStep>> PlanCronJobsAsync(WarehouseConfiguration configuration, CancellationToken cancel)
    {
        if (configuration.CronJobs.Count == 0) return [];
        bool available, installed;
        await using (var db = await connection.DataSource.OpenConnectionAsync(cancel))
        {
            available = await Db.ScalarAsync<bool>(db,
                "SELECT EXISTS (SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_cron' AND has_schema_privilege(n.oid, 'USAGE'))",
                cancel);
            installed = await InstalledAsync(db, cancel);
        }
        if (!available)
            return configuration.CronJobs.Select(j => Done("CronJob", j.Name, ImportAction.Skipped,
                $"pg_cron is not installed in {connection.Database}: schedule it later with Register-WhCronJob -Name {j.Name} -Tenant {j.Tenant} -Template {j.Template} -Schedule '{j.Schedule}'")).ToList();

        var scheduler = new CronScheduler(connection, logger);
        var current = (await scheduler.GetAsync(new CronJobQuery(), cancel)).Where(j => j.Name is not null && j.User == "whadmin")
            .ToDictionary(j => j.Name!, StringComparer.Ordinal);
        var steps = new List<ImportStep>();
        foreach (var job in configuration.CronJobs)
        {
            var request = new CronJobRequest { Name = job.Name, Tenant = job.Tenant, Template = job.Template, Schedule = job.Schedule, RefreshYesterday = job.RefreshYesterday, LookbackDays = job.LookbackDays ?? 7 };
            current.TryGetValue(job.Name, out var existing);
            CronJobRegistration? plan = null;
            try
            {
                // In a -WhatIf run on a warehouse still to be installed there is nothing to check against yet.
                if (installed) plan = await scheduler.PlanRegisterAsync(request, cancel);
            }
            catch (WarehouseException error) when (error.ErrorId is "TenantNotFound" or "TemplateNotFound")
            {
                // In a -WhatIf run the tenant is not created yet: schedule it once it is.
                if (configuration.Tenants.All(t => t.Name != job.Tenant))
                {
                    steps.Add(Done("CronJob", job.Name, ImportAction.Skipped, error.Message));
                    continue;
                }
            }
            if (plan is { ChangesNothing: true } && existing is not null && existing.Active == job.Active)
            {
                steps.Add(Done("CronJob", job.Name, ImportAction.Unchanged, "matches the file"));
                continue;
            }
            var action = existing is null ? ImportAction.Created : ImportAction.Updated;
            var message = $"{(action == ImportAction.Created ? "scheduled" : "updated")} at '{job.Schedule}' (pg_cron time){(job.Active ? "" : ", disabled")}";
            steps.Add(new ImportStep(new WhImportResult("CronJob", job.Name, action, message),
                plan?.Describe() ?? $"schedule cron job '{job.Name}' at '{job.Schedule}' for {job.Tenant}/{job.Template} once the tenant exists",
                async token =>
                {
                    var registration = plan is { ChangesNothing: true } ? null : await scheduler.PlanRegisterAsync(request, token);
                    var registered = registration is null ? existing! : await scheduler.RegisterAsync(registration, token);
                    if (registered.Active != job.Active) await scheduler.SetActiveAsync(registered, job.Active, token);
                    return new WhImportResult("CronJob", job.Name, action, message);
                }));
        }
        return steps;
    }

    private static ImportStep Done(string kind, string name, ImportAction action, string message) =>
        new(new WhImportResult(kind, name, action, message), null, null);

    private static async Task<bool> InstalledAsync(NpgsqlConnection db, CancellationToken cancel) =>
        await Db.ScalarAsync<bool>(db, "SELECT to_regclass('_wh.tenants') IS NOT NULL AND to_regclass('_wh.mv_templates') IS NOT NULL", cancel);

    private static string Differences(TemplateConfiguration current, TemplateConfiguration file)
    {
        var parts = new List<string>();
        if (current.Description != file.Description) parts.Add("description");
        if (current.Query != file.Query) parts.Add("query");
        if (current.Columns != file.Columns) parts.Add("columns");
        if (current.Indexes != file.Indexes) parts.Add("indexes");
        if (current.Default != file.Default) parts.Add(file.Default == true ? "marked default" : "no longer default");
        return string.Join(", ", parts);
    }

    private static string Differences(WhTenant current, TenantConfiguration file)
    {
        var parts = new List<string>();
        void Compare(string what, object? here, object? there)
        {
            if (!Equals(here, there)) parts.Add($"{what} '{here}' here, '{there}' in the file");
        }
        Compare("connection", current.ConnectionName, file.ConnectionName);
        Compare("client name", current.ClientName, file.ClientName);
        Compare("server", current.SourceServer, file.SourceServer);
        Compare("port", current.SourcePort, file.SourcePort);
        Compare("database", current.SourceDatabase, file.SourceDatabase);
        Compare("user", current.SourceUser, file.SourceUser);
        Compare("sslmode", current.SourceSslMode, file.SourceSslMode);
        Compare("channel_binding", current.SourceChannelBinding, file.SourceChannelBinding);
        Compare("sslrootcert", current.SourceSslRootCert, file.SourceSslRootCert);
        Compare("time zone", current.TimeZone, file.TimeZone);
        Compare("freshness SLA", current.FreshnessSla, file.FreshnessSla);
        return string.Join("; ", parts);
    }
}
