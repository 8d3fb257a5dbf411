using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Freshness of every tenant and template, from the freshness engine.</summary>
internal sealed class FreshnessCheck : HealthCheck
{
    public override string Name => HealthCheckNames.Freshness;
    public override bool NeedsFreshness => true;

    /// <summary>
    /// Freshness of every tenant and template from the SQL engine Get-WhMvFreshness reads too (<c>_wh.freshness</c>: one
    /// set of status rules, each tenant on its clock), once the engine's rows (read on the second connection) are in.
    /// Failing, Stale and Empty are Critical; Changed, Partial and Gaps a Warning.
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var rows = await reading.Freshness!;
        var limits = reading.Limits;
        static string Late(TimeSpan by) => by.TotalHours >= 1 ? $"{(int)by.TotalHours} h {by.Minutes} min" : $"{Math.Max(1, (int)by.TotalMinutes)} min";
        var threshold = $"latest day ≥ yesterday; no missing, partial or changed day in the last {limits.FreshnessDays} days; no failure after the last success";
        if (rows.Count == 0) return [Ok(HealthCheckNames.Freshness, "no tenants", threshold, "No tenants yet: New-WhTenant adds one.")];
        return rows.Select(t =>
        {
            var target = t.Template.Length == 0 ? t.Tenant : $"{t.Tenant}/{t.Template}";
            var template = t.Template.Length == 0 ? "<template>" : t.Template;
            var today = DateOnly.FromDateTime(t.Today);
            var latest = t.LatestDate is { } l ? DateOnly.FromDateTime(l) : (DateOnly?)null;
            var gaps = t.MissingDates.Count(d => t.LatestDate is { } x && d < x);
            static string Days(IEnumerable<DateTime> days) => string.Join(", ", days.Take(5).Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
            var advice = t.Status switch
            {
                FreshnessStatus.Failing =>
                    $"the last load failed ({Shorten(t.LastError ?? "")}): Test-WhTenantConnection {t.Tenant}, then load again",
                FreshnessStatus.Stale or FreshnessStatus.Empty => latest is { } last
                    ? $"the latest day is {last:yyyy-MM-dd}: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From {last.AddDays(1):yyyy-MM-dd}, and check its schedule (Get-WhCronJob -Tenant {t.Tenant})"
                    : $"no day loaded yet: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From <first day>",
                FreshnessStatus.Late =>
                    $"yesterday ({today.AddDays(-1):yyyy-MM-dd}) is not finished {Late(t.LateBy)} after its freshness SLA ({t.FreshnessSla:c} after the day ended): " +
                    $"Update-WhMv -Tenant {t.Tenant} -Template {template} -Date {today.AddDays(-1):yyyy-MM-dd} finishes it; check its schedule (Get-WhCronJob -Tenant {t.Tenant}) and Get-WhCronJobRun -Failed",
                FreshnessStatus.Changed =>
                    $"{t.ChangedDates.Count} day(s) differ from the source ({Days(t.ChangedDates)}): Repair-WhMv -Tenant {t.Tenant} -Template {template} -From {t.ChangedDates.Min():yyyy-MM-dd} re-loads them",
                FreshnessStatus.Partial =>
                    $"{t.PartialDates.Count} closed day(s) were last read before they ended ({Days(t.PartialDates)}): Test-WhMv -Tenant {t.Tenant} -Template {template} -From {t.PartialDates.Min():yyyy-MM-dd} | Repair-WhMv",
                FreshnessStatus.Gaps =>
                    $"{gaps} day(s) missing in the last {limits.FreshnessDays}: Invoke-WhMvBackfill {t.Tenant} -Template {template} -From {today.AddDays(-(limits.FreshnessDays - 1)):yyyy-MM-dd} loads only the missing ones",
                FreshnessStatus.Fresh => "Up to date.",
                // No default arm: a new status does not compile until it has its advice and severity here (CS8509 is an
                // error in this project).
            };
            var status = t.Status switch
            {
                FreshnessStatus.Fresh => WhHealthStatus.Ok,
                FreshnessStatus.Changed or FreshnessStatus.Partial or FreshnessStatus.Gaps => WhHealthStatus.Warning,
                FreshnessStatus.Failing or FreshnessStatus.Stale or FreshnessStatus.Empty or FreshnessStatus.Late => WhHealthStatus.Critical,
            };
            var verified = t.LastVerified is { } v ? $", verified {v:yyyy-MM-dd HH:mm}" : "";
            return new WhHealthCheck
            {
                Check = HealthCheckNames.Freshness, Target = target, Status = status,
                Value = $"{t.Status}" + (latest is { } d ? $" (latest {d:yyyy-MM-dd}, {t.DailyViewCount} daily views{verified})" : ""),
                Threshold = $"{threshold} (since {t.WindowStart:yyyy-MM-dd})",
                Message = status == WhHealthStatus.Ok ? "Up to date." : advice + ".",
            };
        }).ToList();
    }
}
