namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>Lists daily views with size, rows and last refresh, in one query (wildcards allowed in -Tenant and -Template).</summary>
[Cmdlet(VerbsCommon.Get, "WhMv")]
[OutputType(typeof(WhMv))]
public sealed class GetWhMvCommand : WhCmdlet
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

    [Parameter]
    public DateTime? From { get; set; }

    [Parameter]
    public DateTime? To { get; set; }

    private readonly List<string> tenants = [];

    protected override void ProcessRecord() => tenants.AddRange(Tenant);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var query = new DailyViewQuery
        {
            Tenants = tenants.Select(t => new NamePattern(t)).ToList(),
            Templates = Template.Select(t => new NamePattern(t)).ToList(),
            From = From is { } f ? DateOnly.FromDateTime(f) : null,
            To = To is { } t ? DateOnly.FromDateTime(t) : null,
        };
        try
        {
            WriteObject(Run(cancel => new DailyViewCatalog(warehouse, Logger).ListAsync(query, cancel)), enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
        base.EndProcessing();
    }
}
