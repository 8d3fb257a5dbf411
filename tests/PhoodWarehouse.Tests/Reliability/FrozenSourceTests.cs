using System.Diagnostics;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Issue 27, item 1: a source that stops answering (its postmaster frozen with SIGSTOP: the kernel still accepts the TCP
/// connection, nothing answers) costs its own tenant a bounded time and is named: Test-WhTenantConnection answers
/// within source_connect_timeout with "does not answer", and a backfill of a healthy and a frozen tenant loads the
/// healthy one and reports the other's days failed, instead of waiting for the command timeout; once its source did not
/// answer, the tenant's other days are not tried.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class FrozenSourceTests(PostgresServer server)
{
    [Fact]
    public async Task A_frozen_source_is_given_up_after_source_connect_timeout_and_the_other_tenant_loads()
    {
        using var frozenCluster = LocalPostgresCluster.Start(new LocalClusterOptions { PreloadPgCron = false });
        var today = WarehouseClock.ServerToday(server.ConnectionString());
        var spec = new SampleTenantSourceSpec
        {
            Database = "frozen_src", ReaderUser = "frozen_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = today.AddDays(-5), Days = 6, RowsPerDay = 5,
        };
        await SampleTenantSource.CreateAsync(frozenCluster.ConnectionString(), spec);
        var healthy = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: 5);

        var database = await server.CreateWarehouseAsync();
        await using (var wh = await SqlKit.OpenAsync(server, database, "whadmin"))
        {
            await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '2s' WHERE key = 'source_connect_timeout'");
            await wh.ExecAsync("SELECT _wh.sync_foreign_servers()");
        }
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            // A finite command timeout, so that a module that waited for the frozen source would fail here, not hang.
            ["cs"] = server.ConnectionString(database, "whadmin"),
            ["from"] = today.AddDays(-5).ToDateTime(TimeOnly.MinValue),
        };
        shell.Run("Connect-WhWarehouse -ConnectionString $cs -CommandTimeout 60 | Out-Null", variables).AssertSucceeded();
        Assert.True(shell.Run("New-WhTenant -Name healthy_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false",
            new Dictionary<string, object?>(WarehouseScenario.SourceVariables(healthy))).Succeeded);
        var frozenVariables = new Dictionary<string, object?>
        {
            ["h"] = frozenCluster.Host, ["p"] = frozenCluster.Port, ["d"] = spec.Database,
            ["c"] = WarehouseScenario.Credential(spec.ReaderUser, spec.ReaderPassword),
        };
        var added = shell.Run("New-WhTenant -Name frozen_a -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Confirm:$false", frozenVariables);
        Assert.True(added.Succeeded, string.Join("; ", added.AllErrors));

        var postmaster = int.Parse(File.ReadLines(Path.Combine(frozenCluster.DataDirectory, "postmaster.pid")).First());
        Signal("STOP", postmaster);
        try
        {
            var clock = Stopwatch.StartNew();
            var test = shell.Run("Test-WhTenantConnection frozen_a");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"Test-WhTenantConnection took {clock.Elapsed}");
            var answer = test.Single<WhTenantConnectionTest>();
            Assert.False(answer.Success);
            Assert.Contains("does not answer", answer.Error);

            clock.Restart();
            var backfill = shell.Run("Invoke-WhMvBackfill -Tenant healthy_a, frozen_a -Template foodlogstats -From $from -ErrorAction SilentlyContinue", variables);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"the backfill took {clock.Elapsed}");
            var results = backfill.All<WhMvResult>();
            Assert.All(results.Where(r => r.Tenant == "healthy_a"), r => Assert.Equal(MvAction.Created, r.Action));
            Assert.Equal(6, results.Count(r => r.Tenant == "healthy_a"));
            var frozen = results.Where(r => r.Tenant == "frozen_a").ToList();
            Assert.Equal(6, frozen.Count);
            Assert.All(frozen, r => Assert.Equal(MvAction.Failed, r.Action));
            // Once it did not answer, its other days are not tried (each would wait the connect timeout again).
            Assert.True(frozen.Count(r => r.Error!.Contains("did not answer earlier in this run")) >= 2,
                string.Join(" | ", frozen.Select(r => r.Error)));
            Assert.Contains(backfill.Warnings, w => w.Message.Contains("frozen_a") && w.Message.Contains("does not answer"));
        }
        finally
        {
            Signal("CONT", postmaster);
        }
    }

    private static void Signal(string signal, int pid) =>
        TestProgram.Run("kill", [$"-{signal}", pid.ToString()]).Succeeded("kill");
}
