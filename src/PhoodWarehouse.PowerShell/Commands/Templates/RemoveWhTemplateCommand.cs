namespace PhoodWarehouse.PowerShell.Commands.Templates;

/// <summary>
/// Removes a template with its public and tenant views. Refuses (TemplateInUse) while daily views of it exist,
/// unless -Force, which drops them first (each tenant in its own transaction, logged 'dropped').
/// </summary>
[Cmdlet(VerbsCommon.Remove, "WhTemplate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveWhTemplateCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Template")]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Also drop the template's daily views in every tenant.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var store = new TemplateStore(warehouse, Logger);
        foreach (var name in Name)
        {
            try
            {
                var plan = Run(cancel => store.PlanRemoveAsync(name, Force, cancel));
                var what = $"Remove template{(plan.UnionViews.Count > 0 ? ", views " + string.Join(", ", plan.UnionViews) : "")}" +
                           (plan.DailyViews.Count > 0 ? $" and {plan.DailyViews.Count} daily views in {plan.DailyViews.Select(v => v.Tenant).Distinct().Count()} tenant(s) (ALL their data)" : "");
                if (!ShouldProcess(name, what)) continue;
                Run(cancel => store.RemoveAsync(name, Force, cancel));
                WriteVerbose($"Removed template {name}.");
            }
            catch (WarehouseException error)
            {
                WriteWhError(error);
            }
        }
    }
}
