namespace PhoodWarehouse.PowerShell.Commands.Tenants;

/// <summary>Lists tenants (wildcards allowed) with their source and what the warehouse holds of them, in one query.</summary>
[Cmdlet(VerbsCommon.Get, "WhTenant")]
[OutputType(typeof(WhTenant))]
public sealed class GetWhTenantCommand : WhCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Name { get; set; } = [];

    private readonly List<string> names = [];

    protected override void ProcessRecord() => names.AddRange(Name);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var patterns = names.Select(n => new NamePattern(n)).ToList();
        try
        {
            var tenants = Run(cancel => new TenantStore(warehouse, Logger).ListAsync(patterns, cancel));
            WriteObject(tenants, enumerateCollection: true);
            WriteUnmatchedTenants(patterns, tenants.Select(t => t.Name).ToList());
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
