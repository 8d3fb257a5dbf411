using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// Start-WhSandbox -Monitoring (issue 30): one command, and postgres_exporter serves the sandbox's metrics as
/// phood_monitor; Stop-WhSandbox stops it with the sandbox.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SandboxMonitoringTests
{
    [Fact]
    public async Task Start_WhSandbox_Monitoring_serves_the_warehouse_metrics_until_the_sandbox_stops()
    {
        using var shell = new HostedPowerShell();
        var folder = Path.Combine(Path.GetTempPath(), "phoodwh-sbmon-" + Guid.NewGuid().ToString("N")[..8]);
        var plan = shell.Run("Start-WhSandbox -TenantCount 1 -Days 3 -Path $p -Monitoring -WhatIf", new Dictionary<string, object?> { ["p"] = folder });
        plan.AssertSucceeded();
        Assert.Contains("start postgres_exporter on a free local port as phood_monitor", Assert.Single(plan.WhatIf));
        Assert.False(Directory.Exists(folder));

        var start = shell.Run(
            """
            $sandbox = Start-WhSandbox -TenantCount 1 -Days 3 -Path $p -Monitoring
            $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Null
            Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-2)) | Out-Null
            $sandbox
            """, new Dictionary<string, object?> { ["p"] = folder });
        Assert.True(start.Succeeded, string.Join("; ", start.AllErrors));
        var sandbox = start.Single<WhSandbox>();
        try
        {
            Assert.NotNull(sandbox.MetricsUrl);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var metrics = PrometheusTests.Exporter.Parse(await http.GetStringAsync(sandbox.MetricsUrl));
            Assert.Equal(0, Assert.Single(metrics, m => m.Name == "pg_exporter_last_scrape_error").Value);
            Assert.Equal(1, Assert.Single(metrics, m => m.Name == "phood_warehouse_tenants").Value);
            Assert.Equal(3, Assert.Single(metrics, m => m.Name == "phood_days" && m.Labels["tenant"] == "north_campus" && m.Labels["status"] == "loaded").Value);
            Assert.Single(metrics, m => m.Name == "phood_status_info" && m.Labels["tenant"] == "north_campus");
            // The exporter's password is the monitoring login's, behind a method like the others.
            Assert.DoesNotContain(new NpgsqlConnectionStringBuilder(sandbox.GetPhoodMonitorConnectionString()).Password!, start.AllText());
        }
        finally
        {
            shell.Run("Stop-WhSandbox").AssertSucceeded();
        }
        using var after = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => after.GetStringAsync(sandbox.MetricsUrl));
        Assert.False(Directory.Exists(folder));
    }
}
