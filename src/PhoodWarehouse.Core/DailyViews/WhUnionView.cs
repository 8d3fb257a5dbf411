namespace PhoodWarehouse.Core.DailyViews;

/// <summary>A tenant or public union view that was rebuilt.</summary>
public sealed record WhUnionView(string View, string Template, string? Tenant, int DailyViewCount)
{
    public override string ToString() => View;
}
