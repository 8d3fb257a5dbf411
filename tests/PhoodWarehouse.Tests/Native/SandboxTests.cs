using System.Management.Automation;
using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.Tests.Native;

/// <summary>Start-WhSandbox and Stop-WhSandbox through the hosted engine: -WhatIf changes nothing; for real, the folder goes.</summary>
[Collection(WarehouseCollection.Name)]
public sealed class SandboxTests
{
    private static string NewFolder() => Path.Combine(Path.GetTempPath(), "phoodwh-sbtest-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void WhatIf_describes_the_start_and_creates_nothing()
    {
        using var shell = new HostedPowerShell();
        var folder = NewFolder();
        var result = shell.Run("Start-WhSandbox -TenantCount 2 -Days 3 -Path $p -WhatIf", new Dictionary<string, object?> { ["p"] = folder });
        result.AssertSucceeded();
        Assert.Empty(result.Output);
        var plan = SandboxFactory.Plan(new SandboxOptions { TenantCount = 2, Days = 3, Path = folder });
        Assert.Equal([$"Start: {string.Join("; ", plan)} | local PostgreSQL sandbox"], result.WhatIf);
        Assert.Contains($"start a throwaway PostgreSQL cluster in {folder}", result.WhatIf[0]);
        Assert.False(Directory.Exists(folder));
        shell.Run("Get-WhWarehouse").AssertError("NotConnected");
    }

    [Fact]
    public void A_sandbox_runs_the_lifecycle_and_stop_deletes_its_folder()
    {
        using var shell = new HostedPowerShell();
        var folder = NewFolder();
        var start = shell.Run("$sandbox = Start-WhSandbox -TenantCount 2 -Days 3 -Path $p; $sandbox",
            new Dictionary<string, object?> { ["p"] = folder });
        var sandbox = start.Single<WhSandbox>();
        try
        {
            Assert.True(Directory.Exists(folder));
            Assert.Equal(folder, sandbox.DataFolder);
            AnotherOsUserCannotUseTheSocket(sandbox);
            Assert.Equal(["north_campus", "city_hospital"], sandbox.Tenants.Select(t => t.Name));
            // Passwords are behind methods: no property, so no view, export or property dump shows them.
            var whadminPassword = new NpgsqlConnectionStringBuilder(sandbox.GetConnectionString()).Password!;
            var roPassword = new NpgsqlConnectionStringBuilder(sandbox.GetPhoodRoConnectionString()).Password!;
            Assert.DoesNotContain(whadminPassword, start.AllText());
            Assert.DoesNotContain(roPassword, start.AllText());
            Assert.DoesNotContain("Password", sandbox.ToString(), StringComparison.OrdinalIgnoreCase);

            // Connected as whadmin; the tenants pipe into New-WhTenant with the sandbox's credential.
            var flow = shell.Run(
                """
                $ErrorActionPreference = 'Stop'
                $sandbox.SourceCredential.GetType().FullName
                (Get-WhWarehouse).User
                $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | ForEach-Object Name
                @(Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-2))).Count
                """);
            Assert.True(flow.Succeeded, string.Join("; ", flow.AllErrors));
            Assert.Equal(["System.Management.Automation.PSCredential", "whadmin", "north_campus", "city_hospital", "6"],
                flow.Output.Select(o => o.ToString()));

            using (var bi = new NpgsqlConnection(sandbox.GetPhoodRoConnectionString()))
            {
                bi.Open();
                using var count = new NpgsqlCommand("SELECT count(DISTINCT client) FROM public.foodlogstats", bi);
                Assert.Equal(2L, count.ExecuteScalar());
            }

            var whatIf = shell.Run("Stop-WhSandbox -WhatIf");
            whatIf.AssertSucceeded();
            Assert.Equal([$"Stop the sandbox and delete its folder {folder} | {sandbox.Endpoint}"], whatIf.WhatIf);
            Assert.True(Directory.Exists(folder));
            Assert.True(sandbox.IsRunning);

            var stop = shell.Run("Stop-WhSandbox -Verbose; Get-WhTenant");
            Assert.False(sandbox.IsRunning);
            Assert.False(Directory.Exists(folder), "Stop-WhSandbox left the folder behind");
            Assert.Contains(stop.Verbose, v => v.Message.Contains(folder));
            stop.AssertError("NotConnected");
        }
        finally
        {
            sandbox.Stop();
        }
    }

    [Fact]
    public async Task A_sandbox_with_a_replica_serves_BI_from_its_standby_and_stop_deletes_both()
    {
        using var shell = new HostedPowerShell();
        var folder = NewFolder();
        var start = shell.Run(
            """
            $sandbox = Start-WhSandbox -TenantCount 1 -Days 2 -Path $p -Replica
            $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential -Template foodlogstats -BackfillFrom ([datetime]::Today.AddDays(-1)) | Out-Null
            $sandbox
            """, new Dictionary<string, object?> { ["p"] = folder });
        Assert.True(start.Succeeded, string.Join("; ", start.AllErrors));
        var sandbox = start.Single<WhSandbox>();
        Assert.NotNull(sandbox.ReplicaPort);
        Assert.NotEqual(sandbox.Port, sandbox.ReplicaPort);
        var standbyFolder = sandbox.ReplicaFolder!;
        Assert.True(File.Exists(Path.Combine(standbyFolder, "data", "standby.signal")));
        try
        {
            await using var primary = new NpgsqlConnection(sandbox.GetPhoodRoConnectionString());
            await primary.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", primary);
            var rows = (long)(await count.ExecuteScalarAsync())!;
            Assert.True(rows > 0);
            await using var replica = new NpgsqlConnection(sandbox.GetReplicaPhoodRoConnectionString());
            await replica.OpenAsync();
            await using (var recovery = new NpgsqlCommand("SELECT pg_is_in_recovery()", replica))
                Assert.True((bool)(await recovery.ExecuteScalarAsync())!);
            // The standby replays what the primary wrote (a moment behind): wait for it, then read the same rows.
            await using var same = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", replica);
            for (var attempt = 0; attempt < 100; attempt++)
            {
                try
                {
                    if ((long)(await same.ExecuteScalarAsync())! == rows) break;
                }
                catch (PostgresException error) when (error.SqlState == "42P01") { /* the view is not replayed yet */ }
                await Task.Delay(100);
            }
            await using var check = new NpgsqlCommand("SELECT count(*) FROM public.foodlogstats", replica);
            Assert.Equal(rows, (long)(await check.ExecuteScalarAsync())!);
        }
        finally
        {
            Assert.True(shell.Run("Stop-WhSandbox").Succeeded);
        }
        Assert.False(Directory.Exists(folder));
        Assert.False(Directory.Exists(standbyFolder));
    }

    [Fact]
    public void A_non_empty_folder_is_refused()
    {
        using var shell = new HostedPowerShell();
        var folder = NewFolder();
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "keep.txt"), "mine");
        try
        {
            var result = shell.Run("Start-WhSandbox -TenantCount 0 -Path $p", new Dictionary<string, object?> { ["p"] = folder });
            result.AssertError("SandboxPathNotEmpty");
            Assert.True(File.Exists(Path.Combine(folder, "keep.txt")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Issue 26, item 7: the socket trusts whoever opens it (pg_cron's jobs log in through it), so only the cluster's own
    /// OS user may open it: another local user (nobody) is refused before PostgreSQL sees a login. The tests run as root,
    /// which is the one machine where another OS user can be tried.
    /// </summary>
    private static void AnotherOsUserCannotUseTheSocket(WhSandbox sandbox)
    {
        Assert.True(Environment.IsPrivilegedProcess, "the socket test needs root to run psql as another OS user (CI runs as root)");
        var psql = TestProgram.Run("runuser",
            ["-u", "nobody", "--", "/usr/bin/psql", "-X", "-w", "-h", sandbox.DataFolder, "-p", sandbox.Port.ToString(), "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"]);
        Assert.NotEqual(0, psql.ExitCode);
        Assert.Contains("Permission denied", psql.Errors);
    }

    [Fact]
    public void Start_WhSandbox_listens_on_the_port_asked_for_and_refuses_one_in_use()
    {
        // Issue 29, item 10: -Port.
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var shell = new HostedPowerShell();
        var folder = NewFolder();
        var started = shell.Run("Start-WhSandbox -TenantCount 1 -Days 1 -Port $port -Path $p", new Dictionary<string, object?> { ["port"] = port, ["p"] = folder });
        var sandbox = started.Single<WhSandbox>();
        try
        {
            Assert.Equal(port, sandbox.Port);
            var other = NewFolder();
            var refused = shell.Run("Start-WhSandbox -TenantCount 1 -Days 1 -Port $port -Path $p", new Dictionary<string, object?> { ["port"] = port, ["p"] = other });
            refused.AssertError("PortInUse");
            Assert.False(Directory.Exists(other) && Directory.EnumerateFileSystemEntries(other).Any(), "a refused start left files behind");
        }
        finally
        {
            shell.Run("Stop-WhSandbox");
        }
        Assert.False(Directory.Exists(folder));
    }
}
