namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>Removes cron jobs (cron.unschedule). Their run history stays until Clear-WhCronJobRun.</summary>
[Cmdlet(VerbsLifecycle.Unregister, "WhCronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class UnregisterWhCronJobCommand : CronJobNameCmdlet
{
    private protected override void Process(CronScheduler scheduler, WhCronJob job)
    {
        if (!ShouldProcess($"{job} (job {job.JobId})", $"Unregister cron job ({job.Schedule}: {job.Command})")) return;
        Run(cancel => scheduler.UnregisterAsync(job, cancel));
        WriteVerbose($"Unregistered cron job {job} (job {job.JobId}).");
    }
}
