namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>
/// Deletes cron run history older than -OlderThan: pg_cron keeps one row per run forever.
/// As whadmin it deletes whadmin's jobs' history (pg_cron's row level security); as a superuser, everyone's.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "WhCronJobRun", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhCronHistoryCleared))]
public sealed class ClearWhCronJobRunCommand : WhCmdlet
{
    /// <summary>Delete runs that ended longer ago than this (e.g. 30.00:00:00 or (New-TimeSpan -Days 30)).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public TimeSpan OlderThan { get; set; }

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var scheduler = new CronScheduler(warehouse, Logger);
        try
        {
            var count = Run(cancel => scheduler.CountHistoryAsync(OlderThan, cancel));
            if (!ShouldProcess("cron.job_run_details", $"Delete {count} cron run history row(s) that ended more than {OlderThan} ago")) return;
            WriteObject(Run(cancel => scheduler.ClearHistoryAsync(OlderThan, cancel)));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
