namespace PhoodWarehouse.PowerShell.Commands.Tenants;

/// <summary>
/// Tests each tenant's source from the warehouse, through dblink as the daily views connect, all tenants at
/// once. An unreachable source is a result with Success = $false, not an error.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "WhTenantConnection")]
[OutputType(typeof(WhTenantConnectionTest))]
public sealed class TestWhTenantConnectionCommand : WhCmdlet
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
        var store = new TenantStore(warehouse, Logger);
        var patterns = names.Select(n => new NamePattern(n)).ToList();
        try
        {
            var tenants = Run(cancel => store.ListAsync(patterns, cancel));
            WriteUnmatchedTenants(patterns, tenants.Select(t => t.Name).ToList());
            WriteObject(Run(cancel => store.TestAsync(tenants, cancel)), enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
