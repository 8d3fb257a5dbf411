namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Loads a range of days for tenants and templates: days in parallel over separate connections, each in its
/// own transaction, through the SQL function pg_cron uses. One WhMvResult per day; a failed day is a
/// non-terminating error and a re-run does only what is missing. Tenants may be piped in (Get-WhTenant).
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "WhMvBackfill", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhMvResult))]
public sealed class InvokeWhMvBackfillCommand : WhBackfillCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    [Parameter(Mandatory = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Template { get; set; } = [];

    [Parameter(Mandatory = true)]
    public DateTime From { get; set; }

    /// <summary>Last day to load; each tenant's today on the warehouse's clock (Core reads it) when left out.</summary>
    [Parameter]
    public DateTime? To { get; set; }

    /// <summary>Rebuild days that already exist; readers keep the old day until the new one replaces it.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    [ValidateRange(1, BackfillRunner.MaxThrottle)]
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>Longest one day may take; a slower day is cancelled and reported as failed.</summary>
    [Parameter]
    public TimeSpan? DayTimeout { get; set; }

    private readonly List<string> tenants = [];

    protected override void ProcessRecord() => tenants.AddRange(Tenant);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        BackfillPlan plan;
        try
        {
            plan = PlanBackfill(new BackfillRequest
            {
                Tenants = tenants.Distinct().ToList(),
                Templates = Template.Distinct().ToList(),
                From = DateOnly.FromDateTime(From),
                To = To is { } to ? DateOnly.FromDateTime(to) : null, // each tenant's today, on its clock
                Force = Force,
                ThrottleLimit = ThrottleLimit,
                DayTimeout = DayTimeout,
            });
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
            return;
        }

        var missing = plan.Days.Count(d => !d.Exists);
        var existing = plan.Total - missing;
        var action = Force
            ? $"Load {missing} missing day(s) and rebuild {existing} existing day(s) of {string.Join(", ", plan.Request.Templates)}"
            : $"Load {missing} missing day(s) of {string.Join(", ", plan.Request.Templates)} and refresh today/yesterday where they exist";
        if (!ShouldProcess(string.Join(", ", plan.Request.Tenants), $"{action}, {plan.Request.From:yyyy-MM-dd} .. {plan.Request.To:yyyy-MM-dd}")) return;

        try
        {
            foreach (var day in RunBackfill(plan))
            {
                WriteObject(day);
                if (day.Action == MvAction.Failed) WriteError(DayFailed(day));
            }
        }
        catch (WarehouseException error)
        {
            // The warehouse went away: one terminating error for the run (WarehouseLost), not one per day left.
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
