namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// The one default freshness window: the days up to today, on each tenant's clock, in which a missing, partial or
/// changed day counts. Get-WhMvFreshness -Days and Get-WhHealth -FreshnessDays both default to it, as
/// <c>_wh.freshness(window_days DEFAULT 30)</c> does, so the two give the same status for a tenant unless told
/// otherwise; each shows the window it used (the check's threshold, <see cref="WhMvFreshness.WindowStart"/>).
/// </summary>
public static class FreshnessWindow
{
    public const int DefaultDays = 30;
}
