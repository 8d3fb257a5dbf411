namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>The warehouse's refresh jobs (or every pg_cron job you can see, with -All), with their next run time.</summary>
[Cmdlet(VerbsCommon.Get, "WhCronJob")]
[OutputType(typeof(WhCronJob))]
public sealed class GetWhCronJobCommand : WhCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>
    /// Only this tenant's jobs (the ones Remove-WhTenant would unschedule). Get-WhTenant's objects bind here whole (a
    /// tenant's name is its string): -Name is the job's name and never binds from the pipeline.
    /// </summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string? Tenant { get; set; }

    [Parameter]
    public SwitchParameter All { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var patterns = Name.Select(n => new NamePattern(n)).ToList();
        var query = new CronJobQuery { Names = patterns, Tenant = Tenant, All = All };
        try
        {
            var jobs = Run(cancel => new CronScheduler(warehouse, Logger).GetAsync(query, cancel));
            WriteObject(jobs, enumerateCollection: true);
            foreach (var pattern in patterns.Where(p => !p.HasWildcards && !jobs.Any(j => j.Name is not null && p.IsMatch(j.Name))))
                WriteWhError(CronScheduler.JobNotFound(pattern.Text, query));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
