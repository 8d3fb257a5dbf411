using System.Management.Automation;

namespace PhoodWarehouse.Tests.Native;

/// <summary>Tab completion through TabExpansion2 in the hosted engine: names from the connected warehouse, matching, quoted.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class CompleterTests(PostgresServer server)
{
    private static IReadOnlyList<CompletionResult> Complete(HostedPowerShell shell, string input)
    {
        var result = shell.Run("(TabExpansion2 -inputScript $s -cursorColumn $s.Length).CompletionMatches",
            new Dictionary<string, object?> { ["s"] = input });
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        return result.All<CompletionResult>();
    }

    [Fact]
    public async Task Tenant_and_template_names_complete_matching_and_quoted()
    {
        using var scenario = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 5);
        scenario.AddTenant("north_campus", source);
        scenario.AddTenant("north_gate", source);
        scenario.AddTenant("city_hospital", source);
        var tenants = Complete(scenario.Shell, "Get-WhTenant -Name nor");
        Assert.Equal(["north_campus", "north_gate"], tenants.Select(c => c.CompletionText));
        Assert.All(tenants, c => Assert.Equal(CompletionResultType.ParameterValue, c.ResultType));

        Assert.Equal(["north_campus", "north_gate"], Complete(scenario.Shell, "Remove-WhTenant NORTH*").Select(c => c.CompletionText));
        Assert.Equal(["city_hospital"], Complete(scenario.Shell, "Get-WhTenant | Invoke-WhMvBackfill -Tenant ci").Select(c => c.CompletionText));

        Assert.Equal(["foodlogstats"], Complete(scenario.Shell, "Update-WhMv north_campus -Template f").Select(c => c.CompletionText));
    }

    [Fact]
    public async Task Names_that_need_it_are_quoted()
    {
        // Tenant and template names are identifiers; cron job names are free text (pg_cron's jobname).
        Assert.True(server.HasPgCron, "pg_cron is not preloaded in the test cluster: install postgresql-15-cron");
        using var scenario = await WarehouseScenario.StartAsync(server, await server.CronWarehouseAsync());
        await using (var db = await server.OpenAsync(scenario.Database, "whadmin"))
        await using (var schedule = new Npgsql.NpgsqlCommand(
            "SELECT cron.schedule_in_database('waste by hour', '0 3 * * *', 'SELECT 1', current_database())", db))
            await schedule.ExecuteNonQueryAsync();
        try
        {
            var result = scenario.Run("[PhoodWarehouse.PowerShell.Infrastructure.CronJobNameCompleter]::new().CompleteArgument('Get-WhCronJob', 'Name', 'waste', $null, @{})");
            Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
            var quoted = Assert.Single(result.All<CompletionResult>());
            Assert.Equal("'waste by hour'", quoted.CompletionText);
            Assert.Equal("waste by hour", quoted.ListItemText);
        }
        finally
        {
            await using var db = await server.OpenAsync(scenario.Database, "whadmin");
            await using var unschedule = new Npgsql.NpgsqlCommand("SELECT cron.unschedule('waste by hour')", db);
            await unschedule.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public void Without_a_connection_the_completers_stay_silent()
    {
        using var shell = new HostedPowerShell();
        var matches = Complete(shell, "Get-WhTenant -Name nor");
        Assert.DoesNotContain(matches, c => c.ResultType == CompletionResultType.ParameterValue);
    }
}
