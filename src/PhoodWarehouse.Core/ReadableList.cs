using System.Collections.ObjectModel;
using System.Globalization;

namespace PhoodWarehouse.Core;

/// <summary>
/// A list of an output object that reads as its items in text: <c>2024-01-02, 2024-01-05</c> where an array reads
/// <c>System.DateTime[]</c>. Export-Csv writes each property's ToString() (issue 29, item 10: arrays readable in CSV);
/// ConvertTo-Json, the pipeline and C# still see a list.
/// </summary>
public sealed class ReadableList<T>(IEnumerable<T> items) : ReadOnlyCollection<T>(items.ToList())
{
    public static new ReadableList<T> Empty { get; } = new([]);

    public override string ToString() => string.Join(", ", this.Select(Text));

    private static string Text(T item) => item switch
    {
        DateTime day when day.TimeOfDay == TimeSpan.Zero => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => item?.ToString() ?? "",
    };
}
