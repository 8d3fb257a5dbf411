namespace PhoodWarehouse.Core.DailyViews;

/// <summary>Which daily views to list: names may hold wildcards; dates are inclusive.</summary>
public sealed record DailyViewQuery
{
    public IReadOnlyList<NamePattern> Tenants { get; init; } = [];
    public IReadOnlyList<NamePattern> Templates { get; init; } = [];
    public DateOnly? From { get; init; }
    public DateOnly? To { get; init; }
}
