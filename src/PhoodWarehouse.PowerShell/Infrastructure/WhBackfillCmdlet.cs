using System.Diagnostics;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// The base of the cmdlets that load days (Invoke-WhMvBackfill, Update-WhMv, Repair-WhMv, New-WhTenant -BackfillFrom,
/// Import-WhConfiguration -BackfillFrom): planning, progress as days finish, and the DayFailed record. The other
/// warehouse cmdlets derive from WhCmdlet and do not carry it.
/// </summary>
public abstract class WhBackfillCmdlet : WhCmdlet
{
    private const int BackfillProgressId = 4711;

    /// <summary>Plans a backfill (a clear error before any work when the request is wrong).</summary>
    protected BackfillPlan PlanBackfill(BackfillRequest request)
    {
        var runner = new BackfillRunner(Warehouse, Logger);
        return Run(cancel => runner.PlanAsync(request, cancel));
    }

    /// <summary>
    /// Runs a planned backfill, writing progress (tenant, day, done/total, time left) as days finish,
    /// and yields each day's result on the pipeline thread.
    /// </summary>
    protected IEnumerable<WhMvResult> RunBackfill(BackfillPlan plan)
    {
        var runner = new BackfillRunner(Warehouse, Logger);
        var activity = $"Loading {string.Join(", ", plan.Request.Templates)} for {plan.Request.Tenants.Count} tenant(s), {plan.Request.From:yyyy-MM-dd} .. {plan.Request.To:yyyy-MM-dd}";
        var watch = Stopwatch.StartNew();
        var done = 0;
        var worked = 0;
        try
        {
            foreach (var result in Stream(cancel => runner.RunAsync(plan, cancel)))
            {
                done++;
                if (result.Action != MvAction.Skipped) worked++;
                var progress = new ProgressRecord(BackfillProgressId, activity,
                    $"{result.Tenant} {result.Date:yyyy-MM-dd}: {result.Action} ({done} of {plan.Total})")
                {
                    PercentComplete = (int)(100L * done / Math.Max(1, plan.Total)),
                    SecondsRemaining = worked == 0 ? -1 : (int)(watch.Elapsed.TotalSeconds / worked * (plan.Total - done)),
                };
                WriteProgress(progress);
                yield return result;
            }
        }
        finally
        {
            try { WriteProgress(new ProgressRecord(BackfillProgressId, activity, "Done") { RecordType = ProgressRecordType.Completed }); }
            catch (PipelineStoppedException) { }
        }
    }

    /// <summary>A failed day as a non-terminating error record: the other days go on; -ErrorAction Stop stops the run.</summary>
    protected static ErrorRecord DayFailed(WhMvResult day) =>
        ToErrorRecord(new WarehouseException("DayFailed", WhErrorKind.OperationFailed,
            $"{day.View} failed: {day.Error} Run the same command again to retry the failed days only.", day));
}
