namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Loads again the days that differ from their sources: Test-WhMv's output piped in, or -Tenant/-Template/-From/-To
/// (checked first). Only days that are not Match, through the path of Update-WhMv -Force (the new rows are built
/// beside the old ones and swapped in one transaction: readers see the old rows or the new, never none); the union
/// views are rebuilt once at the end. One WhMvResult per day.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "WhMv", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PipelineSet)]
[OutputType(typeof(WhMvResult))]
public sealed class RepairWhMvCommand : WhBackfillCmdlet
{
    private const string PipelineSet = "Check";
    private const string RangeSet = "Range";

    /// <summary>Test-WhMv's results; Match days are passed over.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = PipelineSet)]
    public WhMvCheck[] InputObject { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = RangeSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    [Parameter(Position = 1, ParameterSetName = RangeSet)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Template { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = RangeSet)]
    public DateTime From { get; set; }

    /// <summary>Last day; today on the tenant's clock when left out.</summary>
    [Parameter(ParameterSetName = RangeSet)]
    public DateTime? To { get; set; }

    /// <summary>Tenants checked and days loaded at once.</summary>
    [Parameter]
    [ValidateRange(1, BackfillRunner.MaxThrottle)]
    public int ThrottleLimit { get; set; } = 4;

    private readonly List<WhMvCheck> checks = [];

    protected override void ProcessRecord() => checks.AddRange(InputObject);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        try
        {
            if (ParameterSetName == RangeSet) checks.AddRange(CheckFirst(warehouse));
            var approved = checks.Where(c => c.Status != MvCheckStatus.Match)
                .DistinctBy(c => (c.Tenant, c.Template, c.Date))
                .Where(c => ShouldProcess(c.View, c.Status == MvCheckStatus.Missing
                    ? $"Create from the source ({c.SourceRows} rows; the warehouse has no such day)"
                    : $"Re-load from the source and swap (warehouse {c.WarehouseRows} rows, source {c.SourceRows} rows, contents differ)"))
                .Select(c => (c.Tenant, c.Template, DateOnly.FromDateTime(c.Date)))
                .ToList();
            if (approved.Count == 0) return;
            var plan = Run(cancel => new BackfillRunner(warehouse, Logger).PlanRepairAsync(approved, ThrottleLimit, cancel));
            foreach (var day in RunBackfill(plan))
            {
                WriteObject(day);
                if (day.Action == MvAction.Failed) WriteError(DayFailed(day));
            }
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
        base.EndProcessing();
    }

    /// <summary>-Tenant/-Template/-From/-To: Test-WhMv's check first (a source that is down: an error, its days left alone).</summary>
    private IEnumerable<WhMvCheck> CheckFirst(Core.Connections.WhConnection warehouse)
    {
        var from = DateOnly.FromDateTime(From);
        DateOnly? to = To is { } t ? DateOnly.FromDateTime(t) : null;
        // Without -Template: every template the tenant uses. Under -WhatIf the check only plans: it records nothing
        // (Test-WhMv's check records each result).
        var request = new CheckRequest
        {
            Days = Tenant.Distinct().SelectMany(tenant => Template.Length == 0
                ? [new CheckDays(tenant, null, from, to)]
                : Template.Distinct().Select(template => new CheckDays(tenant, template, from, to))).ToList(),
            ThrottleLimit = ThrottleLimit, RecordResults = !IsWhatIf,
        };
        var found = new List<WhMvCheck>();
        foreach (var result in Run(cancel => new DayChecker(warehouse, Logger).CheckAsync(request, cancel)))
        {
            if (result.Error is { } error) WriteWhError(error);
            found.AddRange(result.Days);
        }
        return found;
    }
}
