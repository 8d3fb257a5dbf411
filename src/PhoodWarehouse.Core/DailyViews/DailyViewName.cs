namespace PhoodWarehouse.Core.DailyViews;

/// <summary>The name of a day's view, as _wh.create_mv_name builds it: <c>foodlogstats_2024_01_15</c>.</summary>
public static class DailyViewName
{
    public static string For(string template, DateOnly date) => $"{template}_{date:yyyy_MM_dd}";

    public static string Qualified(string schema, string template, DateOnly date) => $"{schema}.{For(template, date)}";
}
