namespace PhoodWarehouse.PowerShell.Commands.Templates;

/// <summary>Lists templates (wildcards allowed) with their columns, indexes, query and how many daily views use them.</summary>
[Cmdlet(VerbsCommon.Get, "WhTemplate")]
[OutputType(typeof(WhTemplate))]
public sealed class GetWhTemplateCommand : WhCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Template")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string[] Name { get; set; } = [];

    private readonly List<string> names = [];

    protected override void ProcessRecord() => names.AddRange(Name);

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var patterns = names.Distinct().Select(n => new NamePattern(n)).ToList();
        try
        {
            var templates = Run(cancel => new TemplateStore(warehouse, Logger).ListAsync(patterns, cancel));
            WriteObject(templates, enumerateCollection: true);
            foreach (var pattern in patterns.Where(p => !p.HasWildcards && !templates.Any(t => p.IsMatch(t.Name))))
                WriteWhError(TemplateStore.NotFound(pattern.Text));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        base.EndProcessing();
    }
}
