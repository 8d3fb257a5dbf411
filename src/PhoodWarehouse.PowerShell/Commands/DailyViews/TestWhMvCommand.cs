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

    private readonly List<CheckDays> wanted = [];

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
            if (Template.Length == 0) wanted.Add(new CheckDays(tenant, null, first, last));
            else foreach (var template in Template) wanted.Add(new CheckDays(tenant, template, first, last));
    }

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var request = new CheckRequest { Days = wanted, OnlyTemplatesInUse = true, ThrottleLimit = ThrottleLimit };
        try
        {
            foreach (var result in Run(cancel => new DayChecker(warehouse, Logger).CheckAsync(request, cancel)))
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
}
