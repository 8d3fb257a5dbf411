namespace PhoodWarehouse.Core.DailyViews;

/// <summary>How a day compares with its source (<c>_wh.check_mv_window_by_template</c>).</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum MvCheckStatus
{
    /// <summary>The warehouse holds exactly the source's rows (or neither has any).</summary>
    Match,
    /// <summary>The warehouse's day differs: a changed value, an added or a deleted row.</summary>
    Changed,
    /// <summary>The source has rows for a day the warehouse lacks.</summary>
    Missing,
}
