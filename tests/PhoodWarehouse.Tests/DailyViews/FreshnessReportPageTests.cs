using System.Text.RegularExpressions;
using PhoodWarehouse.Core.Reports;

namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>
/// The freshness page without a warehouse: hostile names and messages stay text, nothing is loaded from elsewhere,
/// the day rules in their order (Late included, the status issue 30 brings), and a Late day is drawn in its colour.
/// </summary>
public sealed class FreshnessReportPageTests
{
    private static readonly DateOnly Today = new(2026, 12, 7);

    private static WhDayFreshness Day(string tenant, string template, int back, DayStatus status, string? error = null) => new()
    {
        Tenant = tenant, Template = template, Date = Today.AddDays(-back).ToDateTime(TimeOnly.MinValue), Status = status,
        Today = Today.ToDateTime(TimeOnly.MinValue), Present = status != DayStatus.Missing,
        CapturedAt = new DateTime(2026, 12, 6, 1, 2, 3, DateTimeKind.Utc), CapturedRows = 12,
        LastFailure = error is null ? null : new DateTime(2026, 12, 7, 4, 5, 6, DateTimeKind.Utc), LastError = error,
    };

    private static WhMvFreshness Pair(string tenant, string template, FreshnessStatus status, string? error = null) => new()
    {
        Tenant = tenant, Template = template, Status = status, Today = Today.ToDateTime(TimeOnly.MinValue),
        WindowStart = Today.AddDays(-2).ToDateTime(TimeOnly.MinValue), LastError = error,
        LastFailure = error is null ? null : DateTime.UtcNow,
    };

    [Fact]
    public void Hostile_names_and_errors_stay_text_and_the_page_loads_nothing_from_elsewhere()
    {
        const string tenant = "<img src=x onerror=alert(1)>", template = "t\"><script>alert('t')</script>";
        const string error = "ERROR: \"><script src=https://evil.example/x.js></script> & <style>@import url(https://evil.example/f.css)</style>";
        var html = FreshnessReportPage.Render(
            [Pair(tenant, template, FreshnessStatus.Failing, error)],
            [Day(tenant, template, 1, DayStatus.Failed, error), Day(tenant, template, 0, DayStatus.Open)],
            "db <b>on</b> host:5432", DateTimeOffset.UtcNow);

        // Only these tags and attributes, each attribute value quoted (an unencoded quote or angle bracket would break this).
        var tags = Regex.Matches(html, "<(?<close>/?)(?<name>[!A-Za-z][A-Za-z0-9]*)(?<attributes>[^<>]*)>");
        Assert.Equal(html.Count(c => c == '<'), tags.Count);
        Assert.Empty(tags.Select(t => t.Groups["name"].Value).Distinct()
            .Except(["!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "span", "div"]));
        foreach (var tag in tags.Where(t => t.Groups["name"].Value != "!DOCTYPE"))
        {
            var attributes = tag.Groups["attributes"].Value;
            Assert.Matches("""^(\s+[a-z-]+="[^"]*")*$""", attributes);
            Assert.Empty(Regex.Matches(attributes, "\\s([a-z-]+)=\"[^\"]*\"").Select(a => a.Groups[1].Value).Except(["lang", "charset", "name", "content", "class", "title", "style"]));
        }
        // The style sheet loads nothing (no font, image or import), and nothing else is a style sheet.
        var css = Regex.Match(html, "<style>(?<css>[^<]*)</style>").Groups["css"].Value;
        foreach (var loads in new[] { "url(", "@import", "@font-face", "http", "//" }) Assert.DoesNotContain(loads, css);
        // Inside tooltips, only encoded: no quote ends the attribute, no tag starts.
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt; / t&quot;&gt;&lt;script&gt;", html);
        Assert.Contains("&lt;script src=https://evil.example/x.js&gt;&lt;/script&gt; &amp; &lt;style&gt;", html);
        Assert.Single(Regex.Matches(html, "<style>"));
    }

    [Theory]
    // day back, first loaded day back, present, complete, check, failing, pair Late → status
    [InlineData(0, 5, true, false, null, false, false, DayStatus.Open)]
    [InlineData(1, 5, true, false, null, false, false, DayStatus.Open)]
    [InlineData(1, 5, true, false, null, false, true, DayStatus.Late)]
    [InlineData(1, 5, false, null, null, false, true, DayStatus.Late)]
    [InlineData(2, 5, true, false, null, false, true, DayStatus.Partial)]
    [InlineData(2, 5, true, true, null, false, false, DayStatus.Fresh)]
    [InlineData(2, 5, true, null, null, false, false, DayStatus.Fresh)]
    [InlineData(2, 5, true, true, MvCheckStatus.Match, false, false, DayStatus.Fresh)]
    [InlineData(2, 5, true, false, MvCheckStatus.Changed, false, false, DayStatus.Changed)]
    [InlineData(2, 5, true, true, MvCheckStatus.Changed, true, false, DayStatus.Failed)]
    [InlineData(3, 5, false, null, null, false, false, DayStatus.Missing)]
    [InlineData(3, 5, false, null, null, true, false, DayStatus.Failed)]
    [InlineData(6, 5, false, null, null, false, false, DayStatus.NoData)]
    [InlineData(6, 5, false, null, null, true, false, DayStatus.Failed)]
    [InlineData(6, -1, false, null, null, false, false, DayStatus.NoData)]
    public void A_day_has_the_first_status_whose_rule_holds(int back, int firstBack, bool present, bool? complete, MvCheckStatus? check,
        bool failing, bool pairLate, DayStatus expected)
    {
        DateOnly? first = firstBack < 0 ? null : Today.AddDays(-firstBack);
        Assert.Equal(expected, FreshnessCalendar.Classify(Today.AddDays(-back), Today, first, present, complete, check, failing, pairLate));
    }

    [Fact]
    public void Tenants_on_different_clocks_share_the_columns_and_a_day_outside_a_tenants_window_is_blank()
    {
        // east's today is a day ahead of west's (Pacific/Kiritimati and Pacific/Pago_Pago): 3 days each, 4 columns.
        var east = Enumerable.Range(0, 3).Select(b => Day("east", "f", b, DayStatus.Fresh)).ToList();
        var west = Enumerable.Range(1, 3).Select(b => Day("west", "f", b, DayStatus.Fresh) with { Today = Today.AddDays(-1).ToDateTime(TimeOnly.MinValue) }).ToList();
        var days = east.Concat(west).ToList();
        Assert.Equal([Today.AddDays(-3), Today.AddDays(-2), Today.AddDays(-1), Today], FreshnessReportPage.Columns(days));
        Assert.Equal([("east", "f"), ("west", "f")], FreshnessReportPage.Rows(days));
        var html = FreshnessReportPage.Render([], days, "db", DateTimeOffset.UtcNow);
        var rows = html.Split('\n').Where(l => l.StartsWith("<div class=\"label\" title=", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        // east: blank, then its 3 days; west: its 3 days, then blank (its today is east's yesterday).
        Assert.StartsWith("<div></div><div class=\"s-fresh\"", rows[0][(rows[0].IndexOf("</div>", StringComparison.Ordinal) + 6)..]);
        Assert.EndsWith("<div></div>", rows[1]);
        Assert.Equal(1, Regex.Matches(rows[0], "<div></div>").Count);
        Assert.Equal(1, Regex.Matches(rows[1], "<div></div>").Count);
    }

    [Fact]
    public void Every_status_has_its_own_colour_a_legend_entry_and_a_Late_day_is_drawn_in_it()
    {
        Assert.Equal(Enum.GetValues<DayStatus>().Order(), FreshnessReportPage.Legend.Select(l => l.Status).Order());
        Assert.Equal(FreshnessReportPage.Legend.Count, FreshnessReportPage.Legend.Select(l => l.Colour).Distinct().Count());
        var html = FreshnessReportPage.Render([], [Day("t", "f", 1, DayStatus.Late), Day("t", "f", 0, DayStatus.Open)], "db", DateTimeOffset.UtcNow);
        Assert.Contains($".s-late {{ background: {FreshnessReportPage.Colour(DayStatus.Late)}; }}", html);
        Assert.Contains("<div class=\"s-late\" title=\"t / f&#10;2026-12-06 Sunday: Late", html);
        Assert.Contains("Late (1)", html);
        Assert.Contains("No data (0)", html);
    }
}
