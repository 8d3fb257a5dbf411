namespace PhoodWarehouse.PowerShell.Commands.Schedules;

/// <summary>Resumes paused cron jobs (cron.alter_job ... active => true) and writes them back.</summary>
[Cmdlet(VerbsLifecycle.Enable, "WhCronJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhCronJob))]
public sealed class EnableWhCronJobCommand : CronJobNameCmdlet
{
    private protected override void Process(CronScheduler scheduler, WhCronJob job)
    {
        if (!ShouldProcess($"{job} (job {job.JobId})", "Enable cron job")) return;
        WriteObject(Run(cancel => scheduler.SetActiveAsync(job, true, cancel)));
    }
}
