namespace PhoodWarehouse.Core.DailyViews;

/// <summary>The one rule, and the one error, of a range of days given the wrong way round (-From after -To).</summary>
public static class DateRange
{
    public static void EnsureOrdered(DateOnly from, DateOnly? to)
    {
        if (to is { } end && from > end)
            throw new WarehouseException("ReversedDateRange", WhErrorKind.InvalidArgument,
                $"The range {from:yyyy-MM-dd} .. {end:yyyy-MM-dd} ends before it starts. Swap -From and -To.", from);
    }
}
