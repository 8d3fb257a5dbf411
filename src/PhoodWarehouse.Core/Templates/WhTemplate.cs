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
