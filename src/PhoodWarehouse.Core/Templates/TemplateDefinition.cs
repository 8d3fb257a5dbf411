namespace PhoodWarehouse.Core.Templates;

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
