using System.Management.Automation;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.DailyViews;
using PhoodWarehouse.PowerShell.Infrastructure;

namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Creates or refreshes one day (today by default). With -Force, the guide's "Re-creating a Single Materialized
/// View" in one call: the new day is built beside the old one and swapped in one transaction, dependent views handled.
/// </summary>
[Cmdlet(VerbsData.Update, "WhMv", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhMvResult))]
public sealed class UpdateWhMvCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Tenant { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Template { get; set; } = "";

    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    public DateTime? Date { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        BackfillPlan plan;
        DateOnly day;
        try
        {
            // Without -Date: today on the tenant's clock (asked of the SQL layer, not this machine).
            day = Date is { } date ? DateOnly.FromDateTime(date) : TenantToday(Tenant);
            plan = PlanBackfill(new BackfillRequest
            {
                Tenants = [Tenant], Templates = [Template], From = day, To = day, Force = Force, ThrottleLimit = 1,
            });
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
            return;
        }
        var view = DailyViewName.Qualified(Tenant, Template, day);
        var what = plan.Days[0].Exists ? (Force ? "Re-create (swap in a fresh copy)" : "Refresh if today or yesterday, else skip") : "Create";
        if (!ShouldProcess(view, what)) return;
        foreach (var result in RunBackfill(plan))
        {
            WriteObject(result);
            if (result.Action == MvAction.Failed) WriteError(DayFailed(result));
        }
    }
}
