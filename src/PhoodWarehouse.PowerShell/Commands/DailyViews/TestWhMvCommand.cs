namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Compares days with their sources by fingerprint (row count + content hash over the template's declared columns,
/// computed on both sides: only fingerprints cross dblink). One WhMvCheck per day: Match, Changed or Missing. Reads
/// only (the result is remembered for Get-WhMvFreshness); a source that is down is an error for its days, the others go on.
/// Tenants pipe in from Get-WhTenant, days from Get-WhMv.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "WhMv")]
[OutputType(typeof(WhMvCheck))]
public sealed class TestWhMvCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    /// <summary>The templates to check; without it, every template the tenant has views of.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Template { get; set; } = [];

    /// <summary>One day (Get-WhMv's objects bind it).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DateTime? Date { get; set; }

    [Parameter]
    public DateTime? From { get; set; }

    /// <summary>Last day to check; today on the tenant's clock when left out.</summary>
    [Parameter]
    public DateTime? To { get; set; }

    /// <summary>Tenants checked at once, each over one source connection.</summary>
    [Parameter]
    [ValidateRange(1, DayChecker.MaxThrottle)]
    public int ThrottleLimit { get; set; } = 4;

    private readonly List<(string Tenant, string? Template, DateOnly From, DateOnly? To)> wanted = [];

    protected override void ProcessRecord()
    {
        if (Date is null && From is null)
        {
            ThrowWhError(new WarehouseException("NoDateGiven", WhErrorKind.InvalidArgument,
                "Give -Date for one day, or -From (and -To) for a range.", null));
            return;
        }
        DateOnly first = DateOnly.FromDateTime(Date ?? From!.Value);
        DateOnly? last = Date is { } d ? DateOnly.FromDateTime(d) : To is { } t ? DateOnly.FromDateTime(t) : null;
        foreach (var tenant in Tenant)
            if (Template.Length == 0) wanted.Add((tenant, null, first, last));
            else foreach (var template in Template) wanted.Add((tenant, template, first, last));
    }

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        try
        {
            var windows = Windows(warehouse);
            if (windows.Count == 0) return;
            foreach (var result in Run(cancel => new DayChecker(warehouse, Logger).CheckAsync(windows, ThrottleLimit, cancel)))
            {
                if (result.Error is { } error) WriteWhError(error);
                WriteObject(result.Days, enumerateCollection: true);
            }
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
        base.EndProcessing();
    }

    /// <summary>One window per tenant and template: the days piped in for it merged into one range.</summary>
    private List<CheckWindow> Windows(Core.Connections.WhConnection warehouse)
    {
        // Only the templates a tenant uses: -Template X for a tenant without X would report every day Missing, and
        // Repair-WhMv would then load X into it.
        var templatesOf = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var tenant in Run(cancel => new TenantStore(warehouse, Logger).ListAsync(
                     wanted.Select(w => w.Tenant).Distinct().Select(t => new NamePattern(t)).ToList(), cancel)))
            templatesOf[tenant.Name] = tenant.Templates;
        var pairs = new List<(string Tenant, string Template, DateOnly From, DateOnly? To)>();
        foreach (var w in wanted)
        {
            if (!templatesOf.TryGetValue(w.Tenant, out var templates)) throw TenantStore.NotFound(w.Tenant);
            if (w.Template is null) { pairs.AddRange(templates.Select(t => (w.Tenant, t, w.From, w.To))); continue; }
            if (templates.Contains(w.Template)) pairs.Add((w.Tenant, w.Template, w.From, w.To));
            else WriteVerbose($"Tenant {w.Tenant} does not use template {w.Template}: not checked.");
        }
        return pairs.GroupBy(p => (p.Tenant, p.Template))
            .Select(g => new CheckWindow(g.Key.Tenant, g.Key.Template, g.Min(p => p.From),
                g.Any(p => p.To is null) ? null : g.Max(p => p.To)))
            .OrderBy(w => w.Tenant, StringComparer.Ordinal).ThenBy(w => w.Template, StringComparer.Ordinal)
            .ToList();
    }
}
