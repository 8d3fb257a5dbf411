using PhoodWarehouse.Core.Templates;

namespace PhoodWarehouse.Tests.Templates;

/// <summary>
/// Issue 29, item 6: New-WhTenant without -Template gave a new tenant every template, so once a template made for one
/// tenant existed, `Import-Csv | New-WhTenant` failed for every source that lacks its tables. Now it gives the templates
/// marked default (the guide's foodlogstats; `Set-WhTemplate -Default`), and the mark travels in Export/Import.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DefaultTemplateTests(PostgresServer server)
{
    [Fact]
    public async Task A_csv_of_ten_sources_one_with_its_own_template_imports_in_one_pipeline()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        // Ten sources with one reader login (a fleet's usual set-up): the CSV needs no password column.
        var reader = PostgresServer.UniqueName("csv_reader");
        var sources = new List<TenantSource>();
        for (var i = 0; i < 10; i++) sources.Add(await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 2, seed: i + 1, readerUser: reader));
        // Only the last source has the table its own template reads.
        var special = sources[^1];
        await server.ExecuteAsync(special.Database,
            $"CREATE TABLE special_data (id bigint, day date); INSERT INTO special_data VALUES (1, current_date); GRANT SELECT ON special_data TO \"{special.ReaderUser}\";");
        var variables = new Dictionary<string, object?>
        {
            ["q"] = "SELECT s.id FROM special_data s WHERE s.day = '{TARGET_DATE}'::date",
            ["cols"] = new[] { "id bigint" },
        };
        wh.Run("Set-WhTemplate special_t -Query $q -Columns $cols -Confirm:$false", variables).AssertSucceeded();
        var templates = wh.Run("Get-WhTemplate").All<WhTemplate>().ToDictionary(t => t.Name, t => t.Default);
        Assert.True(templates["foodlogstats"]);
        Assert.False(templates["special_t"]);

        // What Import-Csv gives for a CSV of the ten (every field a string, an empty Template cell an empty string); the
        // hosted engine has no Import-Csv (Pester runs the same pipeline from a file in real pwsh).
        var rows = string.Join(",\n", sources.Select((s, i) =>
            $"[pscustomobject]@{{ Name = 'csv_{i}'; SourceServer = '{s.Host}'; SourcePort = '{s.Port}'; SourceDatabase = '{s.Database}'; Template = '{(s == special ? "special_t" : "")}' }}"));
        var added = wh.Run($"@(\n{rows}\n) | New-WhTenant -SourceCredential $c -Confirm:$false",
            new Dictionary<string, object?> { ["c"] = CredentialFor(sources) });
        added.AssertSucceeded();
        var tenants = added.All<WhTenant>();
        Assert.Equal(10, tenants.Count);
        Assert.All(tenants.Where(t => t.Name != "csv_9"), t => Assert.Equal(["foodlogstats"], t.Templates));
        Assert.Equal(["special_t"], tenants.Single(t => t.Name == "csv_9").Templates);

        // The mark: set, travels in the export, unset.
        wh.Run("Set-WhTemplate special_t -Default -Confirm:$false").AssertSucceeded();
        Assert.True(wh.Run("Get-WhTemplate special_t").Single<WhTemplate>().Default);
        var file = Path.Combine(Path.GetTempPath(), $"phood-defaults-{Guid.NewGuid():N}.json");
        try
        {
            wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = file }).AssertSucceeded();
            var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            var marks = json.RootElement.GetProperty("templates").EnumerateArray()
                .ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("default").GetBoolean());
            Assert.True(marks["special_t"]);
            Assert.True(marks["foodlogstats"]);
        }
        finally
        {
            File.Delete(file);
        }
        wh.Run("Set-WhTemplate special_t -Default:$false -Confirm:$false").AssertSucceeded();
        Assert.False(wh.Run("Get-WhTemplate special_t").Single<WhTemplate>().Default);
    }

    private static System.Management.Automation.PSCredential CredentialFor(IReadOnlyList<TenantSource> sources) =>
        WarehouseScenario.Credential(sources[0].ReaderUser, sources[0].ReaderPassword);
}
