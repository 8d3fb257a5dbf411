using System.Management.Automation;
using System.Net;

namespace PhoodWarehouse.Tests.Session;

[Collection(WarehouseCollection.Name)]
public sealed class ConnectWhWarehouseTests(PostgresServer server)
{
    private static PSCredential Credential(string user, string password) =>
        new(user, new NetworkCredential("", password).SecurePassword);

    [Fact]
    public async Task Connects_with_server_port_database_and_credential_and_sets_the_session_default()
    {
        var database = await server.CreateWarehouseAsync();
        using var shell = new HostedPowerShell();
        var result = shell.Run(
            "Connect-WhWarehouse -Server $server -Port $port -Database $db -Credential $cred -Verbose; Get-WhWarehouse",
            new Dictionary<string, object?>
            {
                ["server"] = server.Host, ["port"] = server.Port, ["db"] = database,
                ["cred"] = Credential("whadmin", PostgresServer.WhadminPassword),
            });

        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var connection = (WhConnection)result.Output[0].BaseObject;
        Assert.Equal(database, connection.Database);
        Assert.Equal("whadmin", connection.User);
        Assert.Equal(server.Port, connection.Port);
        Assert.StartsWith("15", connection.ServerVersion);
        Assert.Equal(WarehouseInstaller.TargetVersion(), connection.WarehouseVersion);
        Assert.False(connection.IsSuperuser);
        Assert.Equal(database, ((PhoodWarehouse.Core.Warehouse.WhWarehouse)result.Output[1].BaseObject).Database);
        Assert.DoesNotContain(PostgresServer.WhadminPassword, result.AllText());
    }

    [Fact]
    public async Task Connects_with_a_connection_string_and_never_shows_its_password()
    {
        var database = await server.CreateWarehouseAsync();
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -ConnectionString $cs -Verbose -Debug",
            new Dictionary<string, object?> { ["cs"] = server.ConnectionString(database, "whadmin") });

        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var text = result.AllText();
        Assert.DoesNotContain(PostgresServer.WhadminPassword, text);
        Assert.DoesNotContain("Password", text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal($"whadmin@{server.Host}:{server.Port}/{database}", result.Single<WhConnection>().ToString());
    }

    [Fact]
    public void A_wrong_password_is_a_LoginRefused_error_without_the_password_or_a_stack_trace()
    {
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -Server $server -Port $port -Database postgres -Credential $cred",
            new Dictionary<string, object?>
            {
                ["server"] = server.Host, ["port"] = server.Port, ["cred"] = Credential("whadmin", "not the password;'x"),
            });

        var error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.Equal("LoginRefused,PhoodWarehouse.PowerShell.Commands.Session.ConnectWhWarehouseCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.Contains("whadmin", error.ToString());
        Assert.DoesNotContain("not the password", result.AllText());
        Assert.DoesNotContain("   at ", error.ToString());
    }

    [Fact]
    public void A_closed_port_is_a_ServerUnreachable_error()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -Server 127.0.0.1 -Port $port -Credential $cred",
            new Dictionary<string, object?> { ["port"] = closedPort, ["cred"] = Credential("whadmin", "x") });

        var error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.StartsWith("ServerUnreachable,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Contains($"127.0.0.1:{closedPort}", error.ToString());
    }

    [Fact]
    public void An_unknown_database_is_a_DatabaseNotFound_error()
    {
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -ConnectionString $cs",
            new Dictionary<string, object?> { ["cs"] = server.ConnectionString("no_such_db_here") });

        var error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.StartsWith("DatabaseNotFound,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Contains("no_such_db_here", error.ToString());
    }

    [Fact]
    public void Commands_without_a_connection_say_to_connect_first()
    {
        using var shell = new HostedPowerShell();
        var result = shell.Run("Get-WhWarehouse");

        var error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.StartsWith("NotConnected,", error.FullyQualifiedErrorId);
        Assert.Contains("Connect-WhWarehouse", error.ToString());
    }

    [Fact]
    public async Task Disconnect_clears_the_session_default()
    {
        var database = await server.CreateWarehouseAsync();
        using var shell = new HostedPowerShell();
        var result = shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null; Disconnect-WhWarehouse; Get-WhWarehouse",
            new Dictionary<string, object?> { ["cs"] = server.ConnectionString(database, "whadmin") });

        result.AssertError("NotConnected");
    }
}
