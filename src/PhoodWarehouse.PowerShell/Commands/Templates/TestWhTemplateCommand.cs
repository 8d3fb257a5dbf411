namespace PhoodWarehouse.PowerShell.Commands.Templates;

/// <summary>
/// Tests a template against a tenant's source for one day without creating anything: placeholders, column list,
/// the query at the source (LIMIT 0 through dblink), result columns against the column list in number and type.
/// The answer is a report (Success, Problems), not an error. With -Query and -Columns it tests a template before
/// it is saved.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "WhTemplate", DefaultParameterSetName = "Stored")]
[OutputType(typeof(WhTemplateTest))]
public sealed class TestWhTemplateCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Stored", ValueFromPipelineByPropertyName = true)]
    [Parameter(Position = 0, ParameterSetName = "Unsaved", ValueFromPipelineByPropertyName = true)]
    [Alias("Template")]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The tenant whose source the template runs against; Get-WhTenant's objects bind here whole (-Name is the template's).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Tenant { get; set; } = "";

    /// <summary>The day to render {TARGET_DATE} with; today on the tenant's clock (the warehouse's) by default. Get-WhMv's objects bind it.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DateTime? Date { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Unsaved")]
    public string Query { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = "Unsaved")]
    public string[] Columns { get; set; } = [];

    [Parameter(ParameterSetName = "Unsaved")]
    public string[]? Indexes { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var unsaved = ParameterSetName == "Unsaved";
        var request = new TemplateTestRequest
        {
            Name = string.IsNullOrEmpty(Name) ? "template_test" : Name,
            Tenant = Tenant,
            Date = Date is { } date ? DateOnly.FromDateTime(date) : null,
            Query = unsaved ? Query : null,
            Columns = unsaved ? string.Join(",\n", Columns) : null,
            Indexes = unsaved && Indexes is not null ? string.Join(";\n", Indexes) : null,
        };
        try
        {
            var report = Run(cancel => new TemplateTester(warehouse, Logger).TestAsync(request, cancel));
            foreach (var problem in report.Problems) WriteVerbose($"{report.Template} on {report.Tenant}: {problem}");
            WriteObject(report);
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
    }
}
