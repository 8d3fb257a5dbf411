namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Rebuilds union views (the guide's troubleshooting #4, "Union view is missing data"): a tenant's view of a
/// template from its daily views (and the public view when it does not include the tenant), or with -Public the
/// cross-tenant view. Each rebuild is one CREATE OR REPLACE VIEW: readers never see it missing.
/// </summary>
[Cmdlet(VerbsData.Update, "WhUnionView", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Tenant")]
[OutputType(typeof(WhUnionView))]
public sealed class UpdateWhUnionViewCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Tenant", ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = "Public")]
    public SwitchParameter Public { get; set; }

    [Parameter(Mandatory = true, Position = 1)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Template { get; set; } = "";

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var builder = new UnionViewBuilder(warehouse, Logger);
        var targets = Public ? [null] : Tenant.Cast<string?>().ToArray();
        foreach (var tenant in targets)
        {
            var view = tenant is null ? $"public.{Template}" : $"{tenant}.{Template}";
            if (!ShouldProcess(view, "Rebuild union view")) continue;
            try
            {
                WriteObject(tenant is null
                    ? Run(cancel => builder.RebuildPublicAsync(Template, cancel))
                    : Run(cancel => builder.RebuildTenantAsync(tenant, Template, cancel)));
            }
            catch (WarehouseException error)
            {
                WriteWhError(error);
            }
        }
    }
}
