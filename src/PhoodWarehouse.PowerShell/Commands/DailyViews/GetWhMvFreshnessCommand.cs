namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// How current each tenant's templates are over the last -Days days: latest day, days behind, missing days, last
/// success and failure, and a Status. One SQL statement for all tenants, however many were piped in.
/// </summary>
[Cmdlet(VerbsCommon.Get, "WhMvFreshness")]
[OutputType(typeof(WhMvFreshness))]
public sealed class GetWhMvFreshnessCommand : WhCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    [Parameter(Position = 1)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Template { get; set; } = [];

    /// <summary>The window: today and the days before it.</summary>
    [Parameter]
    [ValidateRange(1, 3660)]
    public int Days { get; set; } = FreshnessWindow.DefaultDays;

    private readonly List<string> tenants = [];

    protected override void ProcessRecord() => tenants.AddRange(Tenant);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var tenantPatterns = tenants.Select(t => new NamePattern(t)).ToList();
        var templatePatterns = Template.Select(t => new NamePattern(t)).ToList();
        try
        {
            WriteObject(Run(cancel => new DailyViewCatalog(warehouse, Logger).FreshnessAsync(tenantPatterns, templatePatterns, Days, cancel)),
                enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
        base.EndProcessing();
    }
}
