namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>Pauses cron jobs (cron.alter_job ... active => false) without removing them, and writes them back.</summary>
[Cmdlet(VerbsLifecycle.Disable, "WhCronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhCronJob))]
public sealed class DisableWhCronJobCommand : CronJobNameCmdlet
{
    private protected override void Process(CronScheduler scheduler, WhCronJob job)
    {
        if (!ShouldProcess($"{job} (job {job.JobId})", "Disable cron job")) return;
        WriteObject(Run(cancel => scheduler.SetActiveAsync(job, false, cancel)));
    }
}
