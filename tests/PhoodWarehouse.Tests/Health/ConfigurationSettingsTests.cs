using PhoodWarehouse.Core.Configuration;

namespace PhoodWarehouse.Tests.Health;

/// <summary>
/// Issue 27, item 6: Export/Import carries the warehouse's settings (lock_timeout 30 s came back as 10 s, with no
/// warning). -WhatIf lists each change and changes nothing; the import sets them; a bad value in the file is refused
/// by name.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ConfigurationSettingsTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-settings-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task Settings_travel_from_export_to_import_and_WhatIf_lists_them()
    {
        var file = Path.Combine(work, "config.json");
        using (var old = await WarehouseScenario.StartAsync(server))
        {
            await using (var db = await server.OpenAsync(old.Database, "whadmin"))
            await using (var set = new NpgsqlCommand("SELECT _wh.set_setting('lock_timeout', '30s'), _wh.set_setting('source_connect_timeout', '4s')", db))
                await set.ExecuteNonQueryAsync();
            Assert.True(old.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = file }).Succeeded);
        }
        var exported = WarehouseConfiguration.FromJson(File.ReadAllText(file), file);
        Assert.Equal("30s", exported.Settings!["lock_timeout"]);
        Assert.Equal("10min", exported.Settings["source_statement_timeout"]);

        using var fresh = await WarehouseScenario.StartAsync(server);
        var before = await fresh.SnapshotAsync();
        var whatIf = fresh.Run("Import-WhConfiguration -Path $f -WhatIf", new Dictionary<string, object?> { ["f"] = file });
        whatIf.AssertSucceeded();
        Assert.Contains(whatIf.WhatIf, line => line.Contains("set warehouse setting lock_timeout: 10s -> 30s"));
        Assert.Contains(whatIf.WhatIf, line => line.Contains("set warehouse setting source_connect_timeout: 10s -> 4s"));
        Assert.DoesNotContain(whatIf.WhatIf, line => line.Contains("source_statement_timeout"));
        Assert.Equal(before, await fresh.SnapshotAsync());

        var import = fresh.Run("Import-WhConfiguration -Path $f -Confirm:$false", new Dictionary<string, object?> { ["f"] = file });
        Assert.True(import.Succeeded, string.Join("; ", import.AllErrors));
        Assert.Equal("30s", await fresh.ScalarAsync<string>("SELECT value FROM _wh.warehouse_info WHERE key = 'lock_timeout'"));
        Assert.Equal("4s", await fresh.ScalarAsync<string>("SELECT value FROM _wh.warehouse_info WHERE key = 'source_connect_timeout'"));

        await using var wh = await server.OpenAsync(fresh.Database, "whadmin");
        // What a -WhatIf into a database still to be installed compares with: the same defaults the install gives.
        var defaults = await wh.RowsAsync("SELECT key, default_value FROM _wh.settings() ORDER BY key");
        Assert.Equal(defaults.Select(r => $"{r[0]}={r[1]}"),
            SqlScripts.SettingDefaults().OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key}={d.Value}"));
        await using var bad = new NpgsqlCommand("SELECT _wh.set_setting('lock_timeout', 'soon')", wh);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => bad.ExecuteScalarAsync());
        Assert.Contains("lock_timeout", refused.MessageText);
    }
}
