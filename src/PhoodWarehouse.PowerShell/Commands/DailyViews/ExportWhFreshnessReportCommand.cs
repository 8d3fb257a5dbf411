using PhoodWarehouse.Core.Reports;

namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Writes the freshness picture: one self-contained HTML page, tenants by days, each day coloured by its status, a
/// legend, a day's details on hover. Takes Get-WhMvFreshness's objects (their window), or tenants by name
/// (Get-WhTenant's objects bind) with -Template and -Days; all tenants over 30 days without either (an empty pipeline: none).
/// Refuses to replace a file without -Force and to create folders; returns the file.
/// </summary>
[Cmdlet(VerbsData.Export, "WhFreshnessReport", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low,
    DefaultParameterSetName = ByTenant)]
[OutputType(typeof(FileInfo))]
public sealed class ExportWhFreshnessReportCommand : WhCmdlet
{
    private const string ByTenant = "Tenant", ByFreshness = "Freshness";

    /// <summary>The HTML file to write.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Get-WhMvFreshness's objects: which tenants and templates, over which window.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ByFreshness)]
    public WhMvFreshness[] InputObject { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ByTenant)]
    [Alias("Name")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Tenant { get; set; } = [];

    [Parameter(ParameterSetName = ByTenant)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Template { get; set; } = [];

    /// <summary>The window: today (on each tenant's clock) and the days before it.</summary>
    [Parameter(ParameterSetName = ByTenant)]
    [ValidateRange(1, 3660)]
    public int Days { get; set; } = 30;

    /// <summary>Replace the file when it exists.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    private readonly List<WhMvFreshness> piped = [];
    private readonly List<string> tenants = [];

    protected override void ProcessRecord()
    {
        piped.AddRange(InputObject);
        tenants.AddRange(Tenant);
    }

    protected override void EndProcessing()
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        try
        {
            // Before any work, so that -WhatIf predicts them too.
            ReportFile.EnsureWritable(path, Force);
            var warehouse = Warehouse;
            // Piped nothing (`... | Where-Object Status -ne 'Fresh' | Export-WhFreshnessReport` when all is well): a page
            // without rows, not every tenant, which is what the same command without a pipeline means.
            var pairs = ParameterSetName == ByFreshness || (MyInvocation.ExpectingInput && tenants.Count == 0)
                ? piped
                : Run(cancel => new DailyViewCatalog(warehouse, Logger).FreshnessAsync(
                    tenants.Select(t => new NamePattern(t)).ToList(), Template.Select(t => new NamePattern(t)).ToList(), Days, cancel));
            var days = Run(cancel => new FreshnessCalendar(warehouse, Logger).ReadAsync(pairs, cancel));
            var rows = FreshnessReportPage.Rows(days).Count;
            var columns = FreshnessReportPage.Columns(days);
            var window = columns.Count == 0 ? "" : $", {columns[0]:yyyy-MM-dd} .. {columns[^1]:yyyy-MM-dd}";
            if (!ShouldProcess(path, $"write the freshness picture of {rows} tenant/template row(s) × {columns.Count} day(s) of {warehouse.Target}{window}"))
                return;
            var page = FreshnessReportPage.Render(pairs, days, warehouse.Target, DateTimeOffset.Now);
            WriteObject(ReportFile.Write(path, page, Force));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
