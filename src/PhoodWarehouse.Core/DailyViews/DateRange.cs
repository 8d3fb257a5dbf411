namespace PhoodWarehouse.Core.DailyViews;

/// <summary>The rules, and the errors, of a range of days: given the wrong way round (-From after -To), or reaching past today.</summary>
public static class DateRange
{
    public static void EnsureOrdered(DateOnly from, DateOnly? to)
    {
        if (to is { } end && from > end)
            throw new WarehouseException("ReversedDateRange", WhErrorKind.InvalidArgument,
                $"The range {from:yyyy-MM-dd} .. {end:yyyy-MM-dd} ends before it starts. Swap -From and -To.", from);
    }

    /// <summary>
    /// FutureDateRange: the range <paramref name="edge"/> ("ends", "starts") on <paramref name="day"/>, after
    /// <paramref name="today"/> on <paramref name="clock"/> ("the clock of tenant x"); <paramref name="next"/> ends the
    /// sentence with what to do (". Leave out -To ...", or ": why").
    /// </summary>
    public static WarehouseException InFuture(string edge, DateOnly day, DateOnly today, string clock, string next) =>
        new("FutureDateRange", WhErrorKind.InvalidArgument,
            $"The range {edge} on {day:yyyy-MM-dd}, after today ({today:yyyy-MM-dd} on {clock}){next}", day);
}
