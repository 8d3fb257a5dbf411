namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>Runs of the warehouse's cron jobs from cron.job_run_details, newest first: status, times, message.</summary>
[Cmdlet(VerbsCommon.Get, "WhCronJobRun")]
[OutputType(typeof(WhCronJobRun))]
public sealed class GetWhCronJobRunCommand : WhCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CronJobNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Only runs that started at or after this time (a local time unless its Kind is Utc).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    [Parameter]
    public SwitchParameter Failed { get; set; }

    /// <summary>Only the newest N runs.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Last { get; set; }

    /// <summary>Runs of every pg_cron job you can see, not only the warehouse's refresh jobs.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    private readonly List<string> names = [];

    protected override void ProcessRecord() => names.AddRange(Name);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var query = new CronRunQuery
        {
            Names = names.Distinct(StringComparer.OrdinalIgnoreCase).Select(n => new NamePattern(n)).ToList(),
            Since = Since,
            FailedOnly = Failed,
            Last = Last,
            All = All,
        };
        try
        {
            WriteObject(Run(cancel => new CronScheduler(warehouse, Logger).GetRunsAsync(query, cancel)), enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
