using System.Globalization;
using System.Net;
using System.Text;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Reports;

/// <summary>
/// The freshness picture as one self-contained HTML page: a row per tenant and template, a column per day, each cell
/// coloured by its <see cref="DayStatus"/>, a legend with counts, and a day's details in the cell's tooltip (the
/// <c>title</c> attribute). Inline CSS only: no script, no font, image or style from elsewhere, so it opens from a mail
/// attachment or an air-gapped share as it is. Every name and message from the warehouse is HTML-encoded.
/// </summary>
/// <remarks>
/// The grid has a fixed geometry (<see cref="CellLeft"/>, <see cref="CellTop"/>, <see cref="CellSize"/>), independent of
/// fonts and of the length of names: a test (or a DBA's script) can find a tenant's day in a screenshot.
/// </remarks>
public static class FreshnessReportPage
{
    /// <summary>Where the grid starts on the page, in CSS pixels.</summary>
    public const int GridLeft = 16, GridTop = 100;
    /// <summary>The width of the tenant/template labels column.</summary>
    public const int LabelWidth = 260;
    /// <summary>A day cell is a square of this size; cells and rows are <see cref="Gap"/> apart.</summary>
    public const int CellSize = 16, Gap = 2;
    /// <summary>The two header rows above the first tenant: months, then days of the month.</summary>
    public const int HeaderRows = 2;

    /// <summary>The left edge of day column <paramref name="column"/> (0 = the first day of the page).</summary>
    public static int CellLeft(int column) => GridLeft + LabelWidth + Gap + column * (CellSize + Gap);

    /// <summary>The top edge of tenant/template row <paramref name="row"/> (0 = the first, in the page's order).</summary>
    public static int CellTop(int row) => GridTop + (HeaderRows + row) * (CellSize + Gap);

    /// <summary>The size of a window that shows the whole grid of <paramref name="rows"/> × <paramref name="columns"/>.</summary>
    public static (int Width, int Height) Size(int rows, int columns) =>
        (CellLeft(columns) + GridLeft, Math.Max(CellTop(rows) + GridLeft, GridTop + 3 * (CellSize + Gap)));

    /// <summary>Each status's colour (CSS hex) and its legend text, in the legend's order. The Okabe-Ito colours, which
    /// people with any common colour blindness tell apart (a missing day is vermillion, not red beside green).</summary>
    public static IReadOnlyList<(DayStatus Status, string Colour, string Meaning)> Legend { get; } =
    [
        (DayStatus.Fresh, "#009e73", "loaded and finished"),
        (DayStatus.Open, "#9ad9c6", "today or yesterday, loaded so far"),
        (DayStatus.Missing, "#d55e00", "no daily view"),
        (DayStatus.Partial, "#e69f00", "closed before it was finished"),
        (DayStatus.Changed, "#0072b2", "differs from its source (Repair-WhMv)"),
        (DayStatus.Failed, "#000000", "its latest load failed"),
        (DayStatus.Late, "#cc79a7", "yesterday, unfinished past its SLA"),
        (DayStatus.NoData, "#dee2e6", "before the first loaded day"),
    ];

    /// <summary>The CSS colour of a status (<c>#rrggbb</c>).</summary>
    public static string Colour(DayStatus status) => Legend.Single(l => l.Status == status).Colour;

    /// <summary>The tenant/template rows of the page, in its order (tenant, then template, ordinal).</summary>
    public static IReadOnlyList<(string Tenant, string Template)> Rows(IEnumerable<WhDayFreshness> days) =>
        days.Select(d => (d.Tenant, d.Template)).Distinct()
            .OrderBy(p => p.Tenant, StringComparer.Ordinal).ThenBy(p => p.Template, StringComparer.Ordinal).ToList();

    /// <summary>The days of the page: from the earliest window start to the latest today of any tenant (time zones differ).</summary>
    public static IReadOnlyList<DateOnly> Columns(IEnumerable<WhDayFreshness> days)
    {
        var dates = days.Select(d => DateOnly.FromDateTime(d.Date)).ToList();
        if (dates.Count == 0) return [];
        var (first, last) = (dates.Min(), dates.Max());
        return Enumerable.Range(0, last.DayNumber - first.DayNumber + 1).Select(first.AddDays).ToList();
    }

    /// <summary>The page. <paramref name="pairs"/> give each row's overall status (the label's tooltip); <paramref name="source"/>
    /// says which warehouse it shows (never a connection string: no secret goes into the page).</summary>
    public static string Render(IReadOnlyList<WhMvFreshness> pairs, IReadOnlyList<WhDayFreshness> days, string source, DateTimeOffset generatedAt)
    {
        var rows = Rows(days);
        var columns = Columns(days);
        var byCell = days.ToDictionary(d => (d.Tenant, d.Template, DateOnly.FromDateTime(d.Date)));
        var byPair = pairs.Where(p => p.Template.Length > 0).DistinctBy(p => (p.Tenant, p.Template)).ToDictionary(p => (p.Tenant, p.Template));
        var counts = days.GroupBy(d => d.Status).ToDictionary(g => g.Key, g => g.Count());
        var window = columns.Count == 0 ? "no days" : $"{columns[0]:yyyy-MM-dd} .. {columns[^1]:yyyy-MM-dd}";
        var title = $"Freshness of {source}, {window}";

        var html = new StringBuilder(4096 + days.Count * 160);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"generator\" content=\"PhoodWarehouse Export-WhFreshnessReport\">\n")
            .Append("<title>").Append(Encode(title)).Append("</title>\n<style>\n")
            .Append("* { box-sizing: border-box; }\n")
            .Append("body { margin: 0; background: #fff; color: #212529; font: 13px/1.35 sans-serif; }\n")
            .Append($"header {{ position: absolute; left: {GridLeft}px; top: 0; height: {GridTop - 8}px; white-space: nowrap; }}\n")
            .Append("h1 { font-size: 18px; margin: 10px 0 2px; }\n")
            .Append("p { margin: 0 0 6px; color: #495057; }\n")
            .Append($".key {{ display: inline-block; width: {CellSize}px; height: {CellSize}px; vertical-align: -3px; margin: 0 4px 0 0; }}\n")
            .Append(".legend span.item { margin-right: 14px; }\n")
            .Append($".grid {{ position: absolute; left: {GridLeft}px; top: {GridTop}px; display: grid; gap: {Gap}px; ")
            .Append($"grid-template-columns: {LabelWidth}px repeat({Math.Max(columns.Count, 1)}, {CellSize}px); grid-auto-rows: {CellSize}px; }}\n")
            .Append(".grid > div { overflow: hidden; white-space: nowrap; font-size: 10px; line-height: 16px; }\n")
            .Append(".label { font-size: 12px !important; text-overflow: ellipsis; text-align: right; padding-right: 6px; }\n")
            .Append(".month { color: #495057; overflow: visible !important; }\n")
            .Append(".dom { text-align: center; color: #868e96; font-size: 9px !important; }\n")
            .Append(".dom.we { color: #212529; font-weight: bold; }\n");
        foreach (var (status, colour, _) in Legend) html.Append($".{CssClass(status)} {{ background: {colour}; }}\n");
        html.Append("</style>\n</head>\n<body>\n<header>\n")
            .Append("<h1>").Append(Encode(title)).Append("</h1>\n")
            .Append("<p>").Append(Encode(
                $"{rows.Count} tenant/template row(s) × {columns.Count} day(s), each tenant's window on its own clock. " +
                $"Generated {generatedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC. Hover over a day for its details."))
            .Append("</p>\n<p class=\"legend\">");
        foreach (var (status, _, meaning) in Legend)
            html.Append("<span class=\"item\" title=\"").Append(Encode(meaning)).Append("\"><span class=\"key ").Append(CssClass(status))
                .Append("\"></span>").Append(Encode($"{Name(status)} ({counts.GetValueOrDefault(status)})")).Append("</span>");
        html.Append("</p>\n</header>\n<div class=\"grid\">\n");

        // Header row 1: month names, each spanning its days; row 2: the day of the month (weekends in bold).
        html.Append("<div class=\"label\"></div>");
        for (var i = 0; i < columns.Count;)
        {
            var span = 1;
            while (i + span < columns.Count && columns[i + span].Month == columns[i].Month) span++;
            html.Append($"<div class=\"month\" style=\"grid-column: span {span}\">")
                .Append(span >= 3 || i == 0 ? columns[i].ToString("MMM yyyy", CultureInfo.InvariantCulture) : "").Append("</div>");
            i += span;
        }
        if (columns.Count == 0) html.Append("<div></div>");
        html.Append("\n<div class=\"label\">tenant / template</div>");
        foreach (var day in columns)
            html.Append("<div class=\"dom").Append(day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday ? " we" : "")
                .Append("\" title=\"").Append(day.ToString("yyyy-MM-dd dddd", CultureInfo.InvariantCulture)).Append("\">")
                .Append(day.Day.ToString(CultureInfo.InvariantCulture)).Append("</div>");
        if (columns.Count == 0) html.Append("<div></div>");
        html.Append('\n');

        foreach (var (tenant, template) in rows)
        {
            var label = $"{tenant} / {template}";
            var pairTip = byPair.TryGetValue((tenant, template), out var pair) ? PairTip(pair) : label;
            html.Append("<div class=\"label\" title=\"").Append(Encode(pairTip)).Append("\">").Append(Encode(label)).Append("</div>");
            foreach (var day in columns)
            {
                if (!byCell.TryGetValue((tenant, template, day), out var cell))
                {
                    html.Append("<div></div>");   // outside this tenant's window (another time zone)
                    continue;
                }
                html.Append("<div class=\"").Append(CssClass(cell.Status)).Append("\" title=\"").Append(Encode(DayTip(cell))).Append("\"></div>");
            }
            html.Append('\n');
        }
        html.Append("</div>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>The class of a status's cells: <c>s-missing</c>.</summary>
    public static string CssClass(DayStatus status) => "s-" + status.ToString().ToLowerInvariant();

    private static string Name(DayStatus status) => status == DayStatus.NoData ? "No data" : status.ToString();

    private static string PairTip(WhMvFreshness p)
    {
        var tip = new StringBuilder($"{p.Tenant} / {p.Template}: {p.Status}");
        tip.Append($"\n{p.DailyViewCount} daily view(s), latest {Day(p.LatestDate)}, today {p.Today:yyyy-MM-dd}");
        if (p.MissingDates.Count > 0) tip.Append($"\nmissing: {p.MissingDates.Count}");
        if (p.PartialDates.Count > 0) tip.Append($"\npartial: {p.PartialDates.Count}");
        if (p.ChangedDates.Count > 0) tip.Append($"\nchanged: {p.ChangedDates.Count}");
        if (p.LastFailure is { } failed) tip.Append($"\nlast failure {Time(failed)}: {p.LastError}");
        return tip.ToString();
    }

    private static string DayTip(WhDayFreshness d)
    {
        var tip = new StringBuilder($"{d.Tenant} / {d.Template}\n{d.Date.ToString("yyyy-MM-dd dddd", CultureInfo.InvariantCulture)}: {Name(d.Status)}");
        if (d.Present)
            tip.Append(d.CapturedAt is { } captured
                ? $"\ncaptured {Time(captured)}" + (d.CapturedRows is { } rows ? $" ({rows} rows)" : "")
                : "\ncaptured by an earlier release (time unknown)");
        if (d.Compacted) tip.Append(", compacted");
        if (d.LastChecked is { } chk)
            tip.Append($"\nchecked {Time(chk)}: {d.CheckStatus}, warehouse {Count(d.WarehouseRows)} rows, source {Count(d.SourceRows)} rows");
        if (d.LastVerified is { } verified) tip.Append($"\nverified {Time(verified)}");
        if (d.LastFailure is { } failure) tip.Append($"\nfailed {Time(failure)}: {d.LastError}");
        return tip.ToString();
    }

    private static string Day(DateTime? day) => day is { } d ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : "none";

    private static string Count(long? rows) => rows?.ToString(CultureInfo.InvariantCulture) ?? "no";

    private static string Time(DateTime time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    /// <summary>HTML-encoded, newlines kept as line breaks of a tooltip.</summary>
    private static string Encode(string text) => WebUtility.HtmlEncode(text).Replace("\r", "").Replace("\n", "&#10;");
}
