using System.Management.Automation;
using PhoodWarehouse.Tests.Infrastructure;
using Xunit;

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
        // A template name that needs quoting on the command line.
        await using (var db = await server.OpenAsync(scenario.Database))
        await using (var insert = new Npgsql.NpgsqlCommand(
            "INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes) " +
            "SELECT 'waste by hour', description, query_template, column_definitions, indexes FROM _wh.mv_templates WHERE template_name = 'foodlogstats'", db))
            await insert.ExecuteNonQueryAsync();

        var tenants = Complete(scenario.Shell, "Get-WhTenant -Name nor");
        Assert.Equal(["north_campus", "north_gate"], tenants.Select(c => c.CompletionText));
        Assert.All(tenants, c => Assert.Equal(CompletionResultType.ParameterValue, c.ResultType));

        Assert.Equal(["north_campus", "north_gate"], Complete(scenario.Shell, "Remove-WhTenant NORTH*").Select(c => c.CompletionText));
        Assert.Equal(["city_hospital"], Complete(scenario.Shell, "Get-WhTenant | Invoke-WhMvBackfill -Tenant ci").Select(c => c.CompletionText));

        var templates = Complete(scenario.Shell, "Invoke-WhMvBackfill -Tenant north_campus -Template wa");
        var quoted = Assert.Single(templates);
        Assert.Equal("'waste by hour'", quoted.CompletionText);
        Assert.Equal("waste by hour", quoted.ListItemText);
        Assert.Equal(["foodlogstats"], Complete(scenario.Shell, "Update-WhMv north_campus -Template f").Select(c => c.CompletionText));
    }

    [Fact]
    public void Without_a_connection_the_completers_stay_silent()
    {
        using var shell = new HostedPowerShell();
        var matches = Complete(shell, "Get-WhTenant -Name nor");
        Assert.DoesNotContain(matches, c => c.ResultType == CompletionResultType.ParameterValue);
    }
}
