namespace PhoodWarehouse.Tests.Security;

/// <summary>
/// Issue 26, item 5: on a server with passwordcheck loaded, Install-WhWarehouse -WhadminCredential with a password the
/// server rejects fails with the server's reason, and the server log holds no trace of the password (the statement that
/// carried it is neither logged nor quoted as the error's context).
/// </summary>
public sealed class PasswordLogTests
{
    [Fact]
    public async Task A_rejected_whadmin_password_is_reported_and_never_reaches_the_server_log()
    {
        using var cluster = LocalPostgresCluster.Start(new LocalClusterOptions
        {
            PreloadPgCron = false,
            ExtraSettings = ["shared_preload_libraries = 'passwordcheck'"],
        });
        const string rejected = "Xk9#q";
        await SqlKit.ExecAsync(cluster.ConnectionString(), "CREATE DATABASE pwcheck");
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["cs"] = cluster.ConnectionString("pwcheck"),
            ["wc"] = WarehouseScenario.Credential("whadmin", rejected),
        };
        shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null", variables).AssertSucceeded();
        var install = shell.Run("Install-WhWarehouse -Confirm:$false -WhadminCredential $wc", variables);
        Assert.False(install.Succeeded);
        var error = install.FirstError!.ToString();
        Assert.Contains("could not set the password of whadmin", error);
        Assert.Contains("too short", error);
        Assert.DoesNotContain(rejected, error);

        await SqlKit.ExecAsync(cluster.ConnectionString(), "SELECT pg_sleep(0.2)");
        var log = await File.ReadAllTextAsync(cluster.LogFile);
        Assert.Contains("could not set the password of whadmin", log);
        Assert.DoesNotContain(rejected, log);
    }
}
