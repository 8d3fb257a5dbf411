namespace PhoodWarehouse.Core.Templates;

/// <summary>A template: a query with placeholders that becomes one daily view per tenant and day.</summary>
public sealed record WhTemplate
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    /// <summary>Declared columns, "name type", in order (the column_definitions as parsed).</summary>
    public IReadOnlyList<string> Columns { get; init; } = [];
    /// <summary>Index statements as stored (CREATE [UNIQUE] INDEX … ON {SCHEMA}.{VIEW_NAME} …).</summary>
    public IReadOnlyList<string> Indexes { get; init; } = [];
    public required string QueryTemplate { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
    /// <summary>Daily views of this template across all tenants.</summary>
    public int DailyViewCount { get; init; }
    /// <summary>New-WhTenant gives a default template to every new tenant unless -Template names others (Set-WhTemplate -Default).</summary>
    public bool Default { get; init; }

    public override string ToString() => Name;
}

/// <summary>What Set-WhTemplate writes; null keeps the stored value (a new template needs Query and Columns).</summary>
public sealed record TemplateDefinition
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public string? Query { get; init; }
    public string? Columns { get; init; }
    public string? Indexes { get; init; }
    /// <summary>Mark (true) or unmark (false) it as a default template; null keeps it (a new template is not one).</summary>
    public bool? Default { get; init; }
}

/// <summary>What Test-WhTemplate found; <see cref="Success"/> is false when anything is listed in <see cref="Problems"/>.</summary>
public sealed record WhTemplateTest
{
    public required string Template { get; init; }
    public required string Tenant { get; init; }
    public required DateTime Date { get; init; }
    /// <summary>Only {TARGET_DATE}, {SCHEMA} and {VIEW_NAME} appear in the query and indexes.</summary>
    public bool PlaceholdersKnown { get; init; }
    /// <summary>The column list parses: "name type" pieces whose types exist in the warehouse.</summary>
    public bool ColumnsParse { get; init; }
    /// <summary>The rendered query ran at the tenant's source (through dblink, no rows fetched).</summary>
    public bool QueryRuns { get; init; }
    /// <summary>The query's result columns equal the declared ones in number and (base) type, in order.</summary>
    public bool ColumnsMatch { get; init; }
    /// <summary>Declared columns, "name type".</summary>
    public IReadOnlyList<string> DeclaredColumns { get; init; } = [];
    /// <summary>The source's result column types, in order (from a temporary view on the remote).</summary>
    public IReadOnlyList<string> SourceColumnTypes { get; init; } = [];
    public IReadOnlyList<string> Problems { get; init; } = ReadableList<string>.Empty;
    public bool Success => Problems.Count == 0;
}
