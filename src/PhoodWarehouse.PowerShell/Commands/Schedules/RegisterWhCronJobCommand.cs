namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>
/// Schedules a tenant's daily refresh with pg_cron, or updates the job of that name. The schedule is checked with
/// a cron library first; the tenant and template must exist. Nothing is scheduled when any check fails.
/// </summary>
/// <remarks>
/// -Tenant binds from the pipeline by value (a WhTenant converts to its name) and by property name (Tenant, as on
/// a WhCronJob or a CSV column). It does not take the alias Name: -Name is the job's name, and a WhTenant's Name
/// property must not silently become a job name, so -Name never binds from the pipeline.
/// </remarks>
[Cmdlet(VerbsLifecycle.Register, "WhCronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhCronJob))]
public sealed class RegisterWhCronJobCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Tenant { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Template { get; set; } = "";

    /// <summary>Five-field cron expression, read by pg_cron in cron.timezone (GMT by default).</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Schedule { get; set; } = "";

    [Parameter]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string? Name { get; set; }

    /// <summary>Keeps the guide's command (today only: no finishing of yesterday, no check; -LookbackDays is then ignored).</summary>
    [Parameter]
    public SwitchParameter NoRefreshYesterday { get; set; }

    /// <summary>Closed days before yesterday checked against the source once a day (those that differ are re-loaded); 0 turns the check off.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 366)]
    public int LookbackDays { get; set; } = 7;

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var scheduler = new CronScheduler(warehouse, Logger);
        var request = new CronJobRequest
        {
            Tenant = Tenant,
            Template = Template,
            Schedule = Schedule,
            Name = Name,
            RefreshYesterday = !NoRefreshYesterday,
            LookbackDays = LookbackDays,
        };
        try
        {
            var plan = Run(cancel => scheduler.PlanRegisterAsync(request, cancel));
            if (!ShouldProcess(plan.Name, plan.Describe())) return;
            WriteObject(Run(cancel => scheduler.RegisterAsync(plan, cancel)));
        }
        catch (WarehouseException error) when (error.Kind != WhErrorKind.NotInstalled)
        {
            WriteWhError(error);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
