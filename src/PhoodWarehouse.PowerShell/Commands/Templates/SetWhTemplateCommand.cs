namespace PhoodWarehouse.PowerShell.Commands.Templates;

/// <summary>
/// Adds or changes a template: from a <c>template-*.sql</c> file (-Path, run as psql's <c>\i</c> would, a plain
/// INSERT of an existing template becoming an update), or from -Name with -Query, -Columns, -Indexes, -Description
/// (an upsert; parameters left out keep their stored value). The warehouse validates every template.
/// </summary>
[Cmdlet(VerbsCommon.Set, "WhTemplate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Fields")]
[OutputType(typeof(WhTemplate))]
public sealed class SetWhTemplateCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path", ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    [Alias("Template")]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>The query with placeholders {TARGET_DATE}, {SCHEMA}, {VIEW_NAME}.</summary>
    [Parameter(ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    [Alias("QueryTemplate")]
    public string? Query { get; set; }

    /// <summary>Column definitions, "name type" each (one string with commas, or one per element).</summary>
    [Parameter(ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    public string[]? Columns { get; set; }

    /// <summary>Index statements, CREATE [UNIQUE] INDEX ON {SCHEMA}.{VIEW_NAME} (…); an empty array removes them.</summary>
    [Parameter(ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    public string[]? Indexes { get; set; }

    [Parameter(ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    public string? Description { get; set; }

    /// <summary>A tenant whose source the template is checked against before it is saved (Test-WhTemplate's checks).</summary>
    [Parameter(ParameterSetName = "Fields")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string? Tenant { get; set; }

    /// <summary>
    /// Mark the template default (New-WhTenant gives it to every new tenant unless -Template says otherwise);
    /// -Default:$false unmarks it; left out, the mark is kept (a new template is not one).
    /// </summary>
    [Parameter(ParameterSetName = "Fields", ValueFromPipelineByPropertyName = true)]
    public SwitchParameter Default { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var store = new TemplateStore(warehouse, Logger);
        try
        {
            if (ParameterSetName == "Path")
            {
                var path = GetUnresolvedProviderPathFromPSPath(Path);
                var dryRun = Run(cancel => store.ApplyFileAsync(path, commit: false, cancel));
                var names = dryRun.Added.Select(n => $"add template {n}").Concat(dryRun.Updated.Select(n => $"update template {n}"));
                if (!ShouldProcess(path, "Run template file: " + string.Join(", ", names))) return;
                var outcome = Run(cancel => store.ApplyFileAsync(path, commit: true, cancel));
                foreach (var name in outcome.Added.Concat(outcome.Updated).Order())
                    WriteObject(Run(cancel => store.FindAsync(name, cancel)));
                return;
            }
            var definition = new TemplateDefinition
            {
                Name = Name,
                Description = Description,
                Query = Query,
                Columns = Columns is null ? null : string.Join(",\n", Columns),
                Indexes = Indexes is null ? null : string.Join(";\n", Indexes),
                Default = MyInvocation.BoundParameters.ContainsKey(nameof(Default)) ? Default.IsPresent : null,
            };
            Run(cancel => store.SetAsync(definition, commit: false, cancel)); // validates: a refused template fails before ShouldProcess
            if (Tenant is { } tenant) Run(async cancel => { await store.EnsureFitsSourceAsync(definition, tenant, cancel); return true; });
            var exists = Run(cancel => store.ExistsAsync(Name, cancel));
            if (!ShouldProcess(Name, exists ? "Update template (existing daily views keep their definition until re-created)" : "Add template")) return;
            WriteObject(Run(cancel => store.SetAsync(definition, commit: true, cancel)));
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
    }
}
