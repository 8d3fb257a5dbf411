using PhoodWarehouse.Core.Configuration;

namespace PhoodWarehouse.Tests.Health;

/// <summary>
/// The guide's disaster recovery as commands: export, lose the warehouse database, import into a fresh one, backfill
/// from the sources, and get the same tenants, templates, cron jobs and rows. Runs on its own cluster with pg_cron for
/// phood_warehouse, because it drops that database.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ConfigurationRoundTripTests(PostgresServer server)
{
    private const string Database = "phood_warehouse";

    private static async Task<List<string>> RowsAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
            rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i)))));
        return rows;
    }

    private static async Task ExecuteAsync(string connectionString, string sql) => await RowsAsync(connectionString, sql);

    /// <summary>Everything the rebuild must reproduce, as comparable text.</summary>
    private static async Task<List<string>> StateAsync(string connectionString)
    {
        var state = new List<string>();
        state.AddRange(await RowsAsync(connectionString, "SELECT 'template', template_name, description, md5(query_template), column_definitions, indexes FROM _wh.mv_templates ORDER BY 2"));
        state.AddRange(await RowsAsync(connectionString,
            "SELECT 'tenant', t.schema_name, t.connection_name, t.client_name, c.host, c.port, c.dbname, c.username FROM _wh.tenants t JOIN _wh.tenant_connections c ON c.tenant_name = t.connection_name ORDER BY 2"));
        state.AddRange(await RowsAsync(connectionString, "SELECT 'cron', jobname, schedule, command, active, username FROM cron.job ORDER BY 2"));
        state.AddRange(await RowsAsync(connectionString, "SELECT 'views', n.nspname, count(*) FROM pg_matviews m JOIN pg_namespace n ON n.nspname = m.schemaname WHERE n.nspname LIKE 'rt_%' GROUP BY 2 ORDER BY 2"));
        state.AddRange(await RowsAsync(connectionString, "SELECT 'rows', client, count(*) FROM public.foodlogstats GROUP BY 2 ORDER BY 2"));
        return state;
    }

    [Fact]
    public async Task Export_drop_import_backfill_gives_the_same_warehouse_and_a_second_import_changes_nothing()
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { CronDatabase = Database });
        await ExecuteAsync(cluster.ConnectionString(), $"CREATE DATABASE {Database}");
        var warehouse = cluster.ConnectionString(Database);
        var one = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 15);
        var two = await server.CreateTenantSourceAsync(days: 4, rowsPerDay: 25, seed: 3);
        var folder = Directory.CreateTempSubdirectory("wh-config-");
        var plain = Path.Combine(folder.FullName, "warehouse.json");
        var secret = Path.Combine(folder.FullName, "with-secrets.json");
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = warehouse, ["wcs"] = cluster.ConnectionString(Database, "whadmin", PostgresServer.WhadminPassword),
            ["wc"] = WarehouseScenario.Credential("whadmin", PostgresServer.WhadminPassword), ["h"] = one.Host, ["p"] = one.Port, ["d1"] = one.Database, ["d2"] = two.Database,
            ["c1"] = WarehouseScenario.Credential(one.ReaderUser, one.ReaderPassword),
            ["c2"] = WarehouseScenario.Credential(two.ReaderUser, two.ReaderPassword),
            ["plain"] = plain, ["secret"] = secret, ["from"] = one.FirstDay.ToDateTime(TimeOnly.MinValue),
        };
        try
        {
            List<string> original;
            using (var shell = new HostedPowerShell())
            {
                var build = shell.Run(
                    """
                    Connect-WhWarehouse -ConnectionString $cs | Out-Null
                    Install-WhWarehouse -Confirm:$false -WhadminCredential $wc | Out-Null
                    Connect-WhWarehouse -ConnectionString $wcs | Out-Null
                    New-WhTenant -Name rt_one -ClientName 'One Inc' -SourceServer $h -SourcePort $p -SourceDatabase $d1 -SourceCredential $c1 | Out-Null
                    New-WhTenant -Name rt_two -ConnectionName rt_two_conn -SourceServer $h -SourcePort $p -SourceDatabase $d2 -SourceCredential $c2 | Out-Null
                    Get-WhTenant rt_* | Invoke-WhMvBackfill -Template foodlogstats -From $from | Out-Null
                    Register-WhCronJob -Tenant rt_one -Template foodlogstats -Schedule '0 2 * * *' | Out-Null
                    Register-WhCronJob -Tenant rt_two -Template foodlogstats -Schedule '30 3 * * *' -Name rt_two_nightly | Out-Null
                    Disable-WhCronJob -Name rt_two_nightly | Out-Null
                    """, variables);
                Assert.True(build.Succeeded, string.Join("; ", build.AllErrors));
                await ExecuteAsync(warehouse, "UPDATE _wh.mv_templates SET description = 'Edited after install: ''quoted'', ü'");
                original = await StateAsync(warehouse);

                var exported = shell.Run("Export-WhConfiguration -Path $plain", variables);
                Assert.True(exported.Succeeded, string.Join("; ", exported.AllErrors));
                Assert.Empty(exported.Warnings);
                var withSecrets = shell.Run("Export-WhConfiguration -Path $secret -IncludePassword", variables);
                Assert.True(withSecrets.Succeeded, string.Join("; ", withSecrets.AllErrors));
                Assert.Contains(withSecrets.Warnings, w => w.Message.Contains("passwords") && w.Message.Contains(secret));
                var again = shell.Run("Export-WhConfiguration -Path $secret -Force -WhatIf; Export-WhConfiguration -Path ($plain + '.2')", variables);
                Assert.True(again.Succeeded, string.Join("; ", again.AllErrors));
                Assert.Equal(File.ReadAllText(plain), File.ReadAllText(plain + ".2"));
            }

            var text = File.ReadAllText(plain);
            Assert.DoesNotContain(PostgresServer.SourceReaderPassword, text);
            Assert.DoesNotContain(JsonSerializer.Serialize(PostgresServer.SourceReaderPassword).Trim('"'), text);
            Assert.DoesNotContain("sourcePassword", text);
            var file = WarehouseConfiguration.FromJson(text, plain);
            Assert.Equal(WarehouseInstaller.TargetVersion(), file.SchemaVersion);
            Assert.Equal(["foodlogstats"], file.Templates.Select(t => t.Name));
            Assert.Equal("Edited after install: 'quoted', ü", file.Templates[0].Description);
            Assert.Contains("Edited after install: 'quoted', ü", text);
            Assert.Equal(["rt_one", "rt_two"], file.Tenants.Select(t => t.Name));
            Assert.Equal("rt_two_conn", file.Tenants[1].ConnectionName);
            Assert.Equal(two.ReaderUser, file.Tenants[1].SourceUser);
            Assert.Equal(["rt_two_nightly", "wh_rt_one_foodlogstats"], file.CronJobs.Select(j => j.Name));
            Assert.False(file.CronJobs[0].Active);
            var secrets = WarehouseConfiguration.FromJson(File.ReadAllText(secret), secret);
            Assert.All(secrets.Tenants, t => Assert.Equal(PostgresServer.SourceReaderPassword, t.SourcePassword));

            // Disaster: the warehouse database is gone (pg_cron's jobs live in it and go with it).
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(cluster.ConnectionString(), $"DROP DATABASE {Database} WITH (FORCE)");
            await ExecuteAsync(cluster.ConnectionString(), $"CREATE DATABASE {Database}");

            using (var shell = new HostedPowerShell())
            {
                // The superuser part as the superuser; the import (which installs the _wh part) as whadmin.
                var prepared = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Install-WhWarehouse -Confirm:$false", variables);
                Assert.Equal("Prepared", prepared.Single<PhoodWarehouse.Core.Install.WhInstallResult>().Action);
                var empty = await CatalogSnapshot.TakeAsync(warehouse);
                Assert.True(shell.Run("Connect-WhWarehouse -ConnectionString $wcs | Out-Null", variables).Succeeded);
                var whatIf = shell.Run("Import-WhConfiguration -Path $plain -CredentialMap @{ rt_one = $c1; rt_two_conn = $c2 } -BackfillFrom $from -WhatIf", variables);
                whatIf.AssertSucceeded();
                string NewTenant(string name, string connection, TenantSource source) =>
                    $"test the source {source.Host}:{source.Port}/{source.Database} through dblink; create schema {name} (whadmin owns it; phood_ro reads it, including views created later); " +
                    $"add connection {connection} → {source.Host}:{source.Port}/{source.Database} as {source.ReaderUser} (dblink server wh_{connection} with a user mapping for whadmin); " +
                    $"create the tenant and public views of foodlogstats | Tenant {name}";
                Assert.Equal(
                    [
                        $"install the _wh schema {WarehouseInstaller.TargetVersion()} as whadmin (functions.sql); load template 'foodlogstats' (template-foodlogstats.sql) | Warehouse {Database}",
                        "add template foodlogstats | Template foodlogstats",
                        NewTenant("rt_one", "rt_one", one),
                        NewTenant("rt_two", "rt_two_conn", two),
                        "schedule cron job 'rt_two_nightly' at '30 3 * * *' for rt_two/foodlogstats once the tenant exists | CronJob rt_two_nightly",
                        "schedule cron job 'wh_rt_one_foodlogstats' at '0 2 * * *' for rt_one/foodlogstats once the tenant exists | CronJob wh_rt_one_foodlogstats",
                        $"load foodlogstats from {one.FirstDay:yyyy-MM-dd} to today once the tenants exist | rt_one, rt_two",
                    ], whatIf.WhatIf);
                Assert.DoesNotContain(whatIf.All<WhImportResult>(), r => r.Action is ImportAction.Created or ImportAction.Updated);
                Assert.Equal(empty, await CatalogSnapshot.TakeAsync(warehouse));

                var import = shell.Run("Import-WhConfiguration -Path $plain -CredentialMap @{ rt_one = $c1; rt_two_conn = $c2 } -BackfillFrom $from", variables);
                Assert.True(import.Succeeded, string.Join("; ", import.AllErrors));
                var actions = import.All<WhImportResult>();
                Assert.Equal(
                    [
                        "Warehouse phood_warehouse: Created", "Template foodlogstats: Updated", "Tenant rt_one: Created", "Tenant rt_two: Created",
                        "CronJob rt_two_nightly: Created", "CronJob wh_rt_one_foodlogstats: Created",
                        "Backfill rt_one/foodlogstats: Created", "Backfill rt_two/foodlogstats: Created",
                    ],
                    actions.Select(a => a.ToString()));
                Assert.Contains("4 created", actions.Single(a => a.Name == "rt_one/foodlogstats").Message);
                Assert.DoesNotContain(PostgresServer.SourceReaderPassword, import.AllText());
                Assert.Equal(original, await StateAsync(warehouse));

                // After a backfill every daily view has statistics.
                var health = shell.Run("Get-WhHealth -Check NeverAnalyzed, Freshness | Where-Object Status -ne 'Ok'");
                Assert.True(health.Succeeded, string.Join("; ", health.AllErrors));
                Assert.Empty(health.Output);

                var before = await CatalogSnapshot.TakeAsync(warehouse);
                var second = shell.Run("Import-WhConfiguration -Path $plain -CredentialMap @{ rt_one = $c1; rt_two_conn = $c2 }", variables);
                Assert.True(second.Succeeded, string.Join("; ", second.AllErrors));
                Assert.All(second.All<WhImportResult>(), r => Assert.True(r.Action == ImportAction.Unchanged, r + ": " + r.Message));
                Assert.Equal(6, second.Output.Count);
                Assert.Equal(before, await CatalogSnapshot.TakeAsync(warehouse));

                // A file with passwords needs no credential; a tenant that differs is reported, not changed.
                await ExecuteAsync(cluster.ConnectionString(Database, "whadmin", PostgresServer.WhadminPassword), "SELECT _wh.set_client_name('rt_one', 'Renamed')");
                var third = shell.Run("Import-WhConfiguration -Path $secret", variables);
                Assert.True(third.Succeeded, string.Join("; ", third.AllErrors));
                var differs = third.All<WhImportResult>().Single(r => r.Name == "rt_one");
                Assert.Equal(ImportAction.Skipped, differs.Action);
                Assert.Contains("client name 'Renamed' here, 'One Inc' in the file", differs.Message);
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_a_credential_tenants_are_skipped_with_what_to_give_and_a_non_superuser_cannot_install()
    {
        using var wh = await WarehouseScenario.StartAsync(server);
        var source = await server.CreateTenantSourceAsync(days: 2, rowsPerDay: 5);
        wh.AddTenant("rt_lonely", source);
        var path = Path.Combine(Path.GetTempPath(), PostgresServer.UniqueName("wh-config") + ".json");
        try
        {
            Assert.True(wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = path }).Succeeded);
            var fresh = await server.CreateWarehouseAsync();
            using var other = await WarehouseScenario.StartAsync(server, fresh);
            var import = other.Run("Import-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = path });
            Assert.True(import.Succeeded, string.Join("; ", import.AllErrors));
            var skipped = import.All<WhImportResult>().Single(r => r.Kind == "Tenant");
            Assert.Equal(ImportAction.Skipped, skipped.Action);
            Assert.Contains("-SourceCredential", skipped.Message);

            var bare = await server.CreateDatabaseAsync();
            using var shell = new HostedPowerShell();
            var refused = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Import-WhConfiguration -Path $f",
                new Dictionary<string, object?> { ["cs"] = server.ConnectionString(bare, "whadmin"), ["f"] = path });
            refused.AssertError("SuperuserRequired");
            Assert.Empty(refused.Output);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
