namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// The example scripts under docs/examples/ that need only the engine's core cmdlets run here, against a
/// throwaway warehouse, as a DBA would run them (tests/Pester/Examples.Tests.ps1 runs every example, the quickstart too, in real pwsh).
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ExampleScriptsRunTests(PostgresServer server)
{
    private static string Example(string name) => Path.Combine(RepositoryPaths.Root, "docs", "examples", name);

    [Fact]
    public async Task add_tenants_from_csv_adds_and_loads_the_tenants_of_the_file()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var login = PostgresServer.UniqueName("csv_reader");
        var north = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10, readerUser: login);
        var south = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 10, seed: 4, readerUser: login);
        var csv = Path.Combine(Path.GetTempPath(), $"tenants-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(csv,
        [
            "Name,ClientName,SourceServer,SourcePort,SourceDatabase",
            $"north_campus,North Campus,{north.Host},{north.Port},{north.Database}",
            $"south_campus,South Campus,{south.Host},{south.Port},{south.Database}",
        ]);
        try
        {
            var result = wh.Run("& $script -Path $csv -SourceCredential $c -Days 3", new Dictionary<string, object?>
            {
                ["script"] = Example("add-tenants-from-csv.ps1"), ["csv"] = csv,
                ["c"] = WarehouseScenario.Credential(login, north.ReaderPassword),
            });
            Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
        }
        finally
        {
            File.Delete(csv);
        }
        var tenants = wh.Run("Get-WhTenant").All<WhTenant>();
        Assert.Equal(["north_campus", "south_campus"], tenants.Select(t => t.Name));
        Assert.Equal("North Campus", tenants[0].ClientName);
        Assert.All(tenants, t => Assert.Equal(3, t.DailyViewCount));
        Assert.Equal(60L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats", "phood_ro"));
    }

    [Fact]
    public async Task rotate_source_password_switches_the_login_and_refreshes_today()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 10);
        wh.AddTenant("rotating", source, "-BackfillFrom ($WarehouseToday)");
        const string rotated = "rotated 'pw' \\;=ß";
        await using (var db = await server.OpenAsync("postgres"))
        await using (var alter = new NpgsqlCommand($"ALTER ROLE \"{source.ReaderUser}\" PASSWORD '{rotated.Replace("'", "''")}'", db))
            await alter.ExecuteNonQueryAsync();

        var result = wh.Run("& $script -Tenant rotating -SourceCredential $c", new Dictionary<string, object?>
        {
            ["script"] = Example("rotate-source-password.ps1"),
            ["c"] = WarehouseScenario.Credential(source.ReaderUser, rotated),
        });
        Assert.True(result.Succeeded, string.Join(" | ", result.AllErrors));
        Assert.DoesNotContain(rotated, result.AllText());
        var refreshed = wh.Run("Update-WhMv rotating foodlogstats").Single<WhMvResult>();
        Assert.Equal(MvAction.Refreshed, refreshed.Action);
    }
}
