namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Creates or refreshes one day (today by default). With -Force, the guide's "Re-creating a Single Materialized
/// View" in one call: the new day is built beside the old one and swapped in one transaction, dependent views handled.
/// </summary>
[Cmdlet(VerbsData.Update, "WhMv", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhMvResult))]
public sealed class UpdateWhMvCommand : WhBackfillCmdlet
{
    /// <summary>The tenant; Get-WhTenant's objects bind by their Name, Get-WhMv's by their Tenant.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Tenant { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Template { get; set; } = "";

    /// <summary>The day; today on the tenant's clock (the warehouse's) when left out.</summary>
    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    public DateTime? Date { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        BackfillPlan plan;
        try
        {
            // Without -Date, Core plans today on the tenant's clock (the warehouse's, not this machine's).
            DateOnly? day = Date is { } date ? DateOnly.FromDateTime(date) : null;
            plan = Run(cancel => new BackfillRunner(warehouse, Logger).PlanDayAsync(Tenant, Template, day, Force, cancel));
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
            return;
        }
        var view = DailyViewName.Qualified(Tenant, Template, plan.Days[0].Date);
        var what = plan.Days[0].Exists ? (Force ? "Re-create (swap in a fresh copy)" : "Refresh if today or yesterday, else skip") : "Create";
        if (!ShouldProcess(view, what)) return;
        foreach (var result in RunBackfill(plan))
        {
            WriteObject(result);
            if (result.Action == MvAction.Failed) WriteError(DayFailed(result));
        }
    }
}
