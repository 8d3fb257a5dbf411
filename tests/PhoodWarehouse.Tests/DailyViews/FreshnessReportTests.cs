using System.Management.Automation;
using System.Text.RegularExpressions;
using PhoodWarehouse.Core.Reports;

namespace PhoodWarehouse.Tests.DailyViews;

/// <summary>
/// Export-WhFreshnessReport (issue 29, item 11): the page a DBA opens, as Chromium renders it (a screenshot, its pixels
/// read back), agreeing day by day with Get-WhMvFreshness; the file rules (no overwrite without -Force, no folder made,
/// -WhatIf writes nothing) and the pipelines it takes.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed partial class FreshnessReportTests(PostgresServer server)
{
    [GeneratedRegex("""<div class="s-(?<status>[a-z]+)" title="(?<tenant>[^"&]+) / (?<template>[^"&]+)&#10;(?<day>\d{4}-\d{2}-\d{2})""")]
    private static partial Regex Cell();

    [Fact]
    public async Task The_page_shows_a_missing_a_changed_a_partial_and_a_failed_day_in_their_colours_and_agrees_with_Get_WhMvFreshness()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        DateOnly Day(int back) => today.AddDays(-back);
        var a = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 10, firstDay: Day(7));
        var b = await server.CreateTenantSourceAsync(days: 8, rowsPerDay: 10, firstDay: Day(7), seed: 3);
        wh.AddTenant("fr_a", a);
        wh.AddTenant("fr_b", b);

        // Partial: day -4 loaded at 23:00 of that day (the warehouse's clock moved back), never finished.
        await using (var whadmin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
        {
            await whadmin.ExecAsync($"SET phood.now = '{Day(4):yyyy-MM-dd} 23:00'");
            await whadmin.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', 'fr_a', 'fr_a', $1)", Day(4));
        }
        wh.Run("Get-WhTenant fr_* | Invoke-WhMvBackfill -Template foodlogstats -From $f", new Dictionary<string, object?> { ["f"] = Day(7).ToDateTime(TimeOnly.MinValue) })
            .AssertSucceeded();
        // Missing: day -2 of fr_a removed. Changed: day -5 of fr_a gets rows at the source, and a check finds them.
        wh.Run($"Remove-WhMv -Tenant fr_a -Template foodlogstats -Date '{Day(2):yyyy-MM-dd}' -Confirm:$false").AssertSucceeded();
        await SqlKit.AddSourceRowsAsync(server, a, Day(5), 3);
        wh.Run($"Test-WhMv fr_a foodlogstats -From '{Day(7):yyyy-MM-dd}' | Out-Null").AssertSucceeded();
        // Failed: day -3 of fr_b removed, then its load fails (the source is down).
        wh.Run($"Remove-WhMv -Tenant fr_b -Template foodlogstats -Date '{Day(3):yyyy-MM-dd}' -Confirm:$false").AssertSucceeded();
        wh.Run("Set-WhTenant fr_b -SourcePort 1 -SourceCredential $c -SkipConnectionTest", WarehouseScenario.SourceVariables(b)).AssertSucceeded();
        Assert.False(wh.Run($"Update-WhMv fr_b foodlogstats -Date '{Day(3):yyyy-MM-dd}'").Succeeded);

        var freshness = wh.Run("Get-WhMvFreshness fr_* -Days 10").All<WhMvFreshness>().ToDictionary(f => f.Tenant);
        Assert.Equal([Day(2).ToDateTime(TimeOnly.MinValue)], freshness["fr_a"].MissingDates);
        Assert.Equal([Day(4).ToDateTime(TimeOnly.MinValue)], freshness["fr_a"].PartialDates);
        Assert.Equal([Day(5).ToDateTime(TimeOnly.MinValue)], freshness["fr_a"].ChangedDates);
        Assert.Equal(FreshnessStatus.Failing, freshness["fr_b"].Status);

        var work = Directory.CreateTempSubdirectory("wh-freshness-");
        var page = Path.Combine(work.FullName, "freshness.html");
        var written = wh.Run("Get-WhMvFreshness fr_* -Days 10 | Export-WhFreshnessReport -Path $p", new Dictionary<string, object?> { ["p"] = page });
        written.AssertSucceeded();
        Assert.Equal(page, Assert.IsType<FileInfo>(Assert.Single(written.Output).BaseObject).FullName);
        var html = await File.ReadAllTextAsync(page);

        // Day by day, the page says what Get-WhMvFreshness says.
        var cells = Cell().Matches(html).ToDictionary(m => (m.Groups["tenant"].Value, DateOnly.Parse(m.Groups["day"].Value)), m => m.Groups["status"].Value);
        Assert.Equal(20, cells.Count);
        foreach (var (tenant, f) in freshness)
        {
            DateOnly[] Cells(params string[] statuses) => cells.Where(c => c.Key.Item1 == tenant && statuses.Contains(c.Value)).Select(c => c.Key.Item2).Order().ToArray();
            // (a failed day without a view is missing to Get-WhMvFreshness; none of these failed days has a view)
            Assert.Equal(f.MissingDates.Select(DateOnly.FromDateTime), Cells("missing", "failed"));
            Assert.Equal(f.PartialDates.Select(DateOnly.FromDateTime), Cells("partial"));
            Assert.Equal(f.ChangedDates.Select(DateOnly.FromDateTime), Cells("changed"));
        }
        Assert.Equal("failed", cells[("fr_b", Day(3))]);
        Assert.Equal("open", cells[("fr_a", Day(0))]);
        Assert.Equal("fresh", cells[("fr_a", Day(1))]);
        Assert.Equal("nodata", cells[("fr_a", Day(9))]);
        Assert.Contains("fr_b / foodlogstats&#10;" + Day(3).ToString("yyyy-MM-dd"), html);
        Assert.Matches("failed [0-9-]+ [0-9:]+ UTC: ", html);

        // As a browser shows it: the cells of the known days have their colours.
        var (width, height) = FreshnessReportPage.Size(rows: 2, columns: 10);
        var shot = HeadlessChromium.Screenshot(page, width, height, keepAs: Path.Combine(work.FullName, "freshness.png"));
        (int X, int Y) Centre(int row, DateOnly day) =>
            (FreshnessReportPage.CellLeft(day.DayNumber - Day(9).DayNumber) + FreshnessReportPage.CellSize / 2, FreshnessReportPage.CellTop(row) + FreshnessReportPage.CellSize / 2);
        var expected = new (string What, int Row, DateOnly Day, DayStatus Status)[]
        {
            ("fr_a's removed day", 0, Day(2), DayStatus.Missing),
            ("fr_a's changed day", 0, Day(5), DayStatus.Changed),
            ("fr_a's partial day", 0, Day(4), DayStatus.Partial),
            ("fr_a's finished day", 0, Day(3), DayStatus.Fresh),
            ("fr_a's today", 0, Day(0), DayStatus.Open),
            ("fr_a's day before its first", 0, Day(8), DayStatus.NoData),
            ("fr_b's failed day", 1, Day(3), DayStatus.Failed),
            ("fr_b's finished day", 1, Day(2), DayStatus.Fresh),
        };
        var wrong = new List<string>();
        foreach (var (what, row, day, status) in expected)
        {
            var (x, y) = Centre(row, day);
            var seen = shot[x, y];
            var want = Convert.FromHexString(FreshnessReportPage.Colour(status)[1..]);
            if (Math.Abs(seen.R - want[0]) > 3 || Math.Abs(seen.G - want[1]) > 3 || Math.Abs(seen.B - want[2]) > 3)
                wrong.Add($"{what} ({day:yyyy-MM-dd}) at ({x}, {y}) is #{seen.R:x2}{seen.G:x2}{seen.B:x2}, not {status} {FreshnessReportPage.Colour(status)}");
        }
        // Between two cells: the page's white, so cells are told apart.
        var gap = shot[FreshnessReportPage.CellLeft(1) - 1, FreshnessReportPage.CellTop(0) + 8];
        if (gap != (255, 255, 255)) wrong.Add($"the gap between two cells is #{gap.R:x2}{gap.G:x2}{gap.B:x2}, not white");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong) + $"\n(screenshot kept in {work.FullName})");
        work.Delete(recursive: true);
    }

    [Fact]
    public async Task It_refuses_to_replace_a_file_without_Force_and_to_create_a_folder_WhatIf_writes_nothing_and_Get_WhTenant_pipes_in()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 5, firstDay: today.AddDays(-2));
        wh.AddTenant("fp_a", source, $"-BackfillFrom '{today.AddDays(-2):yyyy-MM-dd}'");
        var work = Directory.CreateTempSubdirectory("wh-freshness-");
        var page = Path.Combine(work.FullName, "page.html");
        var variables = new Dictionary<string, object?> { ["p"] = page };

        // -WhatIf: says what it would write, writes nothing (and, as always, changes nothing in the warehouse).
        var before = await wh.SnapshotAsync();
        var whatIf = wh.Run("Export-WhFreshnessReport -Path $p -Days 3 -WhatIf", variables);
        Assert.Equal(before, await wh.SnapshotAsync());
        whatIf.AssertSucceeded();
        Assert.Equal([$"write the freshness picture of 1 tenant/template row(s) × 3 day(s) of {wh.Database} on {server.Host}:{server.Port}, " +
                      $"{today.AddDays(-2):yyyy-MM-dd} .. {today:yyyy-MM-dd} | {page}"], whatIf.WhatIf);
        Assert.Empty(whatIf.Output);
        Assert.False(File.Exists(page));
        Assert.Empty(work.GetFiles());

        // Get-WhTenant's objects bind by Name; the days of the piped tenant only.
        var first = wh.Run("Get-WhTenant fp_a | Export-WhFreshnessReport -Path $p -Days 3", variables);
        first.AssertSucceeded();
        Assert.IsType<FileInfo>(Assert.Single(first.Output).BaseObject);
        var html = await File.ReadAllTextAsync(page);
        Assert.Equal(3, Cell().Matches(html).Count);
        Assert.All(Cell().Matches(html), m => Assert.Equal("fp_a", m.Groups["tenant"].Value));

        // A failure whose message quotes source data (as PostgreSQL's do) is shown as text, never as markup.
        await using (var whadmin = await SqlKit.OpenAsync(server, wh.Database, "whadmin"))
            await whadmin.ExecAsync(
                "INSERT INTO _wh.run_log (tenant_schema, connection_name, template_name, target_date, action, error) VALUES ('fp_a', 'fp_a', 'foodlogstats', $1, 'failed', $2)",
                today.AddDays(-1), "invalid input syntax for type integer: \"<script>alert('x')</script>\" & <img src=x onerror=alert(1)>");
        wh.Run("Export-WhFreshnessReport -Path $p -Days 3 -Force", variables).AssertSucceeded();
        var hostile = await File.ReadAllTextAsync(page);
        Assert.Equal("failed", Cell().Matches(hostile).Single(m => m.Groups["day"].Value == $"{today.AddDays(-1):yyyy-MM-dd}").Groups["status"].Value);
        Assert.Contains("&quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; &amp; &lt;img src=x onerror=alert(1)&gt;", hostile);
        Assert.DoesNotContain("<script", hostile);
        Assert.DoesNotContain("<img", hostile);

        // An empty pipeline (nothing needs attention): a page without rows, not every tenant.
        wh.Run("Get-WhMvFreshness fp_a -Days 3 | Where-Object { $_.Status -eq 'Empty' } | Export-WhFreshnessReport -Path $p -Force", variables).AssertSucceeded();
        Assert.Empty(Cell().Matches(await File.ReadAllTextAsync(page)));
        Assert.Contains("0 tenant/template row(s)", await File.ReadAllTextAsync(page));

        // An existing file: refused, untouched; -Force replaces it; -WhatIf predicts the refusal.
        await File.WriteAllTextAsync(page, "mine");
        var refused = wh.Run("Export-WhFreshnessReport -Path $p", variables);
        var error = refused.AssertError("ReportFileExists");
        Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
        Assert.Contains("-Force", error.Exception.Message);
        Assert.Equal("mine", await File.ReadAllTextAsync(page));
        wh.Run("Export-WhFreshnessReport -Path $p -WhatIf", variables).AssertError("ReportFileExists");
        wh.Run("Export-WhFreshnessReport -Path $p -Force", variables).AssertSucceeded();
        Assert.StartsWith("<!DOCTYPE html>", await File.ReadAllTextAsync(page));

        // A folder that does not exist is not created; a folder is no file.
        var nested = Path.Combine(work.FullName, "no", "such", "page.html");
        var missing = wh.Run("Export-WhFreshnessReport -Path $n", new Dictionary<string, object?> { ["n"] = nested }).AssertError("ReportFolderNotFound");
        Assert.Equal(ErrorCategory.ObjectNotFound, missing.CategoryInfo.Category);
        Assert.False(Directory.Exists(Path.Combine(work.FullName, "no")));
        wh.Run("Export-WhFreshnessReport -Path $w -Force", new Dictionary<string, object?> { ["w"] = work.FullName }).AssertError("ReportPathIsFolder");
        Assert.Equal(["page.html"], work.GetFiles().Select(f => f.Name));
        work.Delete(recursive: true);
    }
}
