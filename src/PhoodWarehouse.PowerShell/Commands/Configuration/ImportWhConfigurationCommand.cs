using System.Collections;
using PhoodWarehouse.Core.Configuration;

namespace PhoodWarehouse.PowerShell.Commands.Configuration;

/// <summary>
/// Rebuilds a warehouse from an Export-WhConfiguration file (the guide's "Complete Warehouse Rebuild"): install when
/// needed, templates, tenants, cron jobs, and optionally a backfill from the sources. Idempotent: what matches the file
/// is reported Unchanged and left alone; -WhatIf describes each change and makes none.
/// </summary>
[Cmdlet(VerbsData.Import, "WhConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = SharedSet)]
[OutputType(typeof(WhImportResult))]
public sealed class ImportWhConfigurationCommand : WhBackfillCmdlet
{
    private const string SharedSet = "SharedCredential";
    private const string MapSet = "CredentialMap";

    /// <summary>The file Export-WhConfiguration wrote.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The source login of every tenant (when they share one); otherwise the file's passwords, if it has any.</summary>
    [Parameter(ParameterSetName = SharedSet)]
    [Credential]
    public PSCredential? SourceCredential { get; set; }

    /// <summary>Tenant name or connection name → PSCredential, for tenants with their own logins.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MapSet)]
    public Hashtable? CredentialMap { get; set; }

    /// <summary>After the import, load every imported tenant's templates from this day up to today (what exists is skipped).</summary>
    [Parameter]
    public DateTime? BackfillFrom { get; set; }

    /// <summary>Days loaded at once during the backfill.</summary>
    [Parameter]
    [ValidateRange(1, BackfillRunner.MaxThrottle)]
    public int ThrottleLimit { get; set; } = 4;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        WarehouseConfiguration configuration;
        try
        {
            configuration = WarehouseConfiguration.FromJson(File.ReadAllText(path), path);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
            return;
        }
        catch (IOException error)
        {
            ThrowTerminatingError(new ErrorRecord(error, "ConfigurationFileNotRead", ErrorCategory.ReadError, path)
            {
                ErrorDetails = new ErrorDetails($"Could not read {path}: {error.Message}"),
            });
            return;
        }

        var importer = new ConfigurationImporter(warehouse, Logger);
        try
        {
            var install = Run(cancel => importer.PlanInstallAsync(configuration, cancel));
            if (!Apply(install, terminating: true)) return;
            foreach (var step in Run(cancel => importer.PlanSettingsAsync(configuration, cancel))) Apply(step);
            foreach (var step in Run(cancel => importer.PlanTemplatesAsync(configuration, cancel))) Apply(step);
            foreach (var step in Run(cancel => importer.PlanTenantsAsync(configuration, Login, cancel))) Apply(step);
            foreach (var step in Run(cancel => importer.PlanCronJobsAsync(configuration, cancel))) Apply(step);
            if (BackfillFrom is { } from) Backfill(configuration, DateOnly.FromDateTime(from));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }

    /// <summary>Writes an unchanged step's result, or applies a change after ShouldProcess. False when a needed change was not made.</summary>
    private bool Apply(ImportStep step, bool terminating = false)
    {
        var planned = step.Planned;
        if (!step.ChangesSomething)
        {
            WriteObject(planned);
            return true;
        }
        if (!ShouldProcess($"{planned.Kind} {planned.Name}", step.Description ?? planned.Message)) return !terminating || WhatIfOnly;
        try
        {
            WriteObject(Run(step.Apply!));
            return true;
        }
        catch (WarehouseException error) when (!terminating)
        {
            WriteWhError(error);
            return false;
        }
    }

    /// <summary>Under -WhatIf the later phases are still described (against the warehouse as it is now).</summary>
    private bool WhatIfOnly => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && value is SwitchParameter { IsPresent: true };

    private SourceLogin? Login(TenantConfiguration tenant)
    {
        if (CredentialMap is not null)
        {
            foreach (var key in new[] { tenant.Name, tenant.ConnectionName })
                foreach (DictionaryEntry entry in CredentialMap)
                    if (string.Equals(entry.Key?.ToString(), key, StringComparison.OrdinalIgnoreCase))
                        return ToLogin(entry.Value, tenant);
        }
        if (SourceCredential is not null) return ToLogin(SourceCredential, tenant);
        return tenant.SourcePassword is { } password ? new SourceLogin(tenant.SourceUser, password) : null;
    }

    private static SourceLogin? ToLogin(object? value, TenantConfiguration tenant)
    {
        var credential = value is PSObject wrapped ? wrapped.BaseObject as PSCredential : value as PSCredential;
        if (credential is null) return null;
        var user = string.IsNullOrEmpty(credential.UserName) ? tenant.SourceUser : credential.UserName.TrimStart('\\');
        return new SourceLogin(user, credential.GetNetworkCredential().Password);
    }

    private void Backfill(WarehouseConfiguration configuration, DateOnly from)
    {
        var warehouse = Warehouse;
        var existing = warehouse.WarehouseVersion is null
            ? []
            : Run(cancel => new TenantStore(warehouse, Logger).ListAsync([], cancel)).Select(t => t.Name).ToHashSet();
        var allTemplates = configuration.Templates.Select(t => t.Name).ToList();
        var byTemplate = configuration.Tenants
            .SelectMany(t => (t.Templates.Count == 0 ? allTemplates : t.Templates).Select(template => (Tenant: t.Name, Template: template)))
            .GroupBy(p => p.Template, p => p.Tenant);
        foreach (var group in byTemplate.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var tenants = group.Where(existing.Contains).Distinct().Order(StringComparer.Ordinal).ToList();
            if (tenants.Count == 0)
            {
                if (group.Any()) ShouldProcess(string.Join(", ", group), $"load {group.Key} from {from:yyyy-MM-dd} to today once the tenants exist");
                continue;
            }
            BackfillPlan plan;
            try
            {
                plan = PlanBackfill(new BackfillRequest { Tenants = tenants, Templates = [group.Key], From = from, To = null, ThrottleLimit = ThrottleLimit });
            }
            catch (WarehouseException error)
            {
                WriteWhError(error);
                continue;
            }
            var missing = plan.Days.Count(d => !d.Exists);
            if (!ShouldProcess(string.Join(", ", tenants), $"load {missing} missing day(s) of {group.Key}, {from:yyyy-MM-dd} .. {plan.Request.To:yyyy-MM-dd}, and refresh today/yesterday")) continue;

            var counts = tenants.ToDictionary(t => t, _ => new Dictionary<MvAction, int>());
            foreach (var day in RunBackfill(plan))
            {
                var tally = counts[day.Tenant];
                tally[day.Action] = tally.GetValueOrDefault(day.Action) + 1;
                if (day.Action == MvAction.Failed) WriteError(DayFailed(day));
            }
            foreach (var (tenant, tally) in counts)
            {
                var created = tally.GetValueOrDefault(MvAction.Created) + tally.GetValueOrDefault(MvAction.Recreated);
                var refreshed = tally.GetValueOrDefault(MvAction.Refreshed);
                var action = created > 0 ? ImportAction.Created : refreshed > 0 ? ImportAction.Updated : ImportAction.Unchanged;
                WriteObject(new WhImportResult("Backfill", $"{tenant}/{group.Key}", action,
                    $"{from:yyyy-MM-dd} .. {plan.Request.To:yyyy-MM-dd}: {created} created, {refreshed} refreshed, {tally.GetValueOrDefault(MvAction.Skipped)} skipped, {tally.GetValueOrDefault(MvAction.Failed)} failed"));
            }
        }
    }
}
