namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>
/// What Enable-, Disable- and Unregister-WhCronJob share: -Name (wildcards, from the pipeline by property name,
/// as Get-WhCronJob writes it) resolved against every job the session can see (Get-WhCronJob -All), one error per
/// name that matches nothing.
/// </summary>
public abstract class CronJobNameCmdlet : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var scheduler = new CronScheduler(warehouse, Logger);
        IReadOnlyList<WhCronJob> jobs;
        var everyJob = new CronJobQuery { All = true };
        try
        {
            jobs = Run(cancel => scheduler.GetAsync(everyJob, cancel));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
            return;
        }
        foreach (var text in Name)
        {
            var pattern = new NamePattern(text);
            var matches = jobs.Where(j => j.Name is not null && pattern.IsMatch(j.Name)).ToList();
            if (matches.Count == 0 && !pattern.HasWildcards)
                WriteWhError(CronScheduler.JobNotFound(text, everyJob));
            foreach (var job in matches)
            {
                try
                {
                    Process(scheduler, job);
                }
                catch (WarehouseException error)
                {
                    WriteWhError(error);
                }
            }
        }
    }

    /// <summary>Acts on one job (ShouldProcess first).</summary>
    private protected abstract void Process(CronScheduler scheduler, WhCronJob job);
}
