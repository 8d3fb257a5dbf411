namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Honest -WhatIf for every state-changing cmdlet that works on a warehouse as whadmin, on one loaded warehouse: each
/// command succeeds (no error record, HadErrors false), the full catalog snapshot (rows included) is unchanged, and the
/// "What if:" lines a user's console shows name exactly the planned actions on exactly the planned targets.
/// The cron cmdlets are in CronJobCmdletTests (pg_cron's database), Install-WhWarehouse in InstallWhWarehouseTests
/// (a superuser's session), the sandbox's in SandboxTests; Import-WhConfiguration in ConfigurationRoundTripTests.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class WhatIfTests(PostgresServer server)
{
    private sealed record Case(string Script, params string[] Steps);

    [Fact]
    public async Task Every_change_under_WhatIf_succeeds_changes_nothing_and_describes_the_planned_steps()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var today = await wh.TodayAsync();
        var source = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 5, firstDay: today.AddDays(-3));
        var variables = WarehouseScenario.SourceVariables(source);
        wh.Shell.SetVariable("from", today.AddDays(-2).ToDateTime(TimeOnly.MinValue));
        wh.AddTenant("wi_a", source, "-BackfillFrom $from");
        Assert.Equal(3L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_matviews WHERE schemaname = 'wi_a'"));
        // Repair-WhMv's input: a day the source has and the warehouse has not (Test-WhMv records its check in the run log).
        var checks = wh.Run("Test-WhMv wi_a -Template foodlogstats -From $d", new Dictionary<string, object?> { ["d"] = today.AddDays(-3).ToDateTime(TimeOnly.MinValue) });
        checks.AssertSucceeded();
        wh.Shell.SetVariable("checks", checks.Output.ToArray());
        var work = Directory.CreateTempSubdirectory("wh-whatif-");
        var export = Path.Combine(work.FullName, "config.json");
        var templateFile = Path.Combine(work.FullName, "template-inventory_stats.sql");
        await File.WriteAllTextAsync(templateFile, GuideExamples.InventoryStatsTemplate + ";\n");
        variables["export"] = export;
        variables["templateFile"] = templateFile;
        variables["d1"] = today.AddDays(-1).ToDateTime(TimeOnly.MinValue);
        variables["d2"] = today.AddDays(-2).ToDateTime(TimeOnly.MinValue);
        variables["d3"] = today.AddDays(-3).ToDateTime(TimeOnly.MinValue);
        variables["d4"] = today.AddDays(-4).ToDateTime(TimeOnly.MinValue);

        string Day(int back) => $"wi_a.foodlogstats_{today.AddDays(-back):yyyy_MM_dd}";
        string Date(int back) => $"{today.AddDays(-back):yyyy-MM-dd}";
        var endpoint = $"{source.Host}:{source.Port}/{source.Database}";
        var target = $"{wh.Database} on {server.Host}:{server.Port}";

        Case[] cases =
        [
            new("New-WhTenant -Name wi_new -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Template foodlogstats -BackfillFrom $d2 -WhatIf",
                $"New tenant: test the source {endpoint} through dblink; " +
                "create schema wi_new (whadmin owns it; phood_ro reads it, including views created later); " +
                $"add connection wi_new → {endpoint} as {source.ReaderUser} (dblink server wh_wi_new with a user mapping for whadmin); " +
                $"create the tenant and public views of foodlogstats; load every day from {Date(2)} to today of the tenant's templates | wi_new"),
            new("Set-WhTenant wi_a -ClientName 'Renamed Inc' -SourceCredential $c -WhatIf",
                $"Change tenant: source user → {source.ReaderUser}, source password (user mapping), client name → Renamed Inc (tenant and public views rebuilt) | wi_a"),
            new("Set-WhTenant wi_a -TimeZone 'Europe/Berlin' -WhatIf", "Change tenant: time zone → Europe/Berlin | wi_a"),
            new("Remove-WhTenant wi_a -WhatIf",
                "rebuild public.foodlogstats without wi_a | wi_a",
                "drop schema wi_a and its 3 daily views | wi_a",
                "drop connection wi_a (dblink server and user mapping) | wi_a",
                "unregister tenant wi_a | wi_a"),
            new("Set-WhTemplate -Name foodlogstats -Description 'changed' -WhatIf",
                "Update template (existing daily views keep their definition until re-created) | foodlogstats"),
            new("Set-WhTemplate -Path $templateFile -WhatIf", $"Run template file: add template inventory_stats | {templateFile}"),
            new("Remove-WhTemplate foodlogstats -Force -WhatIf",
                "Remove template, views public.foodlogstats, wi_a.foodlogstats and 3 daily views in 1 tenant(s) (ALL their data) | foodlogstats"),
            new("Invoke-WhMvBackfill wi_a -Template foodlogstats -From $d4 -WhatIf",
                $"Load 2 missing day(s) of foodlogstats and refresh today/yesterday where they exist, {Date(4)} .. {Date(0)} | wi_a"),
            new("Get-WhTenant wi_a | Invoke-WhMvBackfill -Template foodlogstats -From $d4 -Force -WhatIf",
                $"Load 2 missing day(s) and rebuild 3 existing day(s) of foodlogstats, {Date(4)} .. {Date(0)} | wi_a"),
            new("Update-WhMv wi_a foodlogstats -WhatIf", $"Refresh if today or yesterday, else skip | {Day(0)}"),
            new("Update-WhMv wi_a foodlogstats -Date $d2 -Force -WhatIf", $"Re-create (swap in a fresh copy) | {Day(2)}"),
            new("Update-WhMv wi_a foodlogstats -Date $d3 -WhatIf", $"Create | {Day(3)}"),
            new("Update-WhUnionView -Tenant wi_a -Template foodlogstats -WhatIf; Update-WhUnionView -Public -Template foodlogstats -WhatIf",
                "Rebuild union view | wi_a.foodlogstats", "Rebuild union view | public.foodlogstats"),
            new("Remove-WhMv -Tenant wi_a -Template foodlogstats -Before $d1 -WhatIf",
                $"Drop daily view (its rows leave the tenant view in the same transaction) | {Day(2)}"),
            new("Get-WhMv wi_a -From $d1 | Remove-WhMv -WhatIf",
                $"Drop daily view (its rows leave the tenant view in the same transaction) | {Day(1)}", $"Drop daily view (its rows leave the tenant view in the same transaction) | {Day(0)}"),
            new("$checks | Repair-WhMv -WhatIf", $"Create from the source (5 rows; the warehouse has no such day) | {Day(3)}"),
            // The range form checks first: under -WhatIf that check records nothing either.
            new("Repair-WhMv -Tenant wi_a -Template foodlogstats -From $d3 -WhatIf", $"Create from the source (5 rows; the warehouse has no such day) | {Day(3)}"),
            new("Export-WhConfiguration -Path $export -WhatIf",
                $"write 1 template(s), 1 tenant(s) and 0 cron job(s) of {target}, without passwords | {export}"),
            new("Export-WhConfiguration -Path $export -IncludePassword -WhatIf",
                $"write 1 template(s), 1 tenant(s) and 0 cron job(s) of {target}, with source passwords | {export}"),
        ];

        var failures = new List<string>();
        foreach (var step in cases)
        {
            var before = await wh.SnapshotAsync();
            var result = wh.Run(step.Script, variables);
            if (!result.Succeeded || result.HadErrors)
                failures.Add($"{step.Script}: failed (HadErrors {result.HadErrors}): {string.Join(" | ", result.AllErrors)}");
            if (!result.WhatIf.SequenceEqual(step.Steps))
                failures.Add($"{step.Script}: described\n    {string.Join("\n    ", result.WhatIf)}\n  instead of\n    {string.Join("\n    ", step.Steps)}");
            var after = await wh.SnapshotAsync();
            if (after != before)
            {
                var (was, now) = (before.Split('\n'), after.Split('\n'));
                failures.Add($"{step.Script}: changed the warehouse: -{string.Join(" -", was.Except(now))} +{string.Join(" +", now.Except(was))}");
            }
            if (result.Output.Count > 0) failures.Add($"{step.Script}: wrote {result.Output.Count} object(s)");
        }
        Assert.False(File.Exists(export), "Export-WhConfiguration -WhatIf wrote the file");
        Assert.False(File.Exists(export + ".tmp"), "Export-WhConfiguration -WhatIf wrote the temporary file");
        work.Delete(recursive: true);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
