namespace PhoodWarehouse.Core.Configuration;

public sealed record TemplateConfiguration
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required string Query { get; init; }
    public required string Columns { get; init; }
    public string? Indexes { get; init; }
    /// <summary>A default template (New-WhTenant's set); null in files written before 0.4.0, where every template was.</summary>
    public bool? Default { get; init; }
}
