using Npgsql;

namespace PhoodWarehouse.PowerShell.Commands.Session;

/// <summary>
/// Opens and checks a connection to a warehouse database and makes it this session's default. A WhAsyncCmdlet, not a
/// WhCmdlet: it makes the connection, so it has no -Connection.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "WhWarehouse", DefaultParameterSetName = ByServer)]
[OutputType(typeof(WhConnection))]
public sealed class ConnectWhWarehouseCommand : WhAsyncCmdlet
{
    private const string ByServer = "Server";
    private const string ByConnectionString = "ConnectionString";

    [Parameter(Mandatory = true, ParameterSetName = ByConnectionString, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string ConnectionString { get; set; } = "";

    [Parameter(ParameterSetName = ByServer, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Server { get; set; } = "localhost";

    [Parameter(ParameterSetName = ByServer)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = 5432;

    [Parameter(ParameterSetName = ByServer)]
    [ValidateNotNullOrEmpty]
    public string Database { get; set; } = "phood_warehouse";

    [Parameter(ParameterSetName = ByServer)]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>TLS to the warehouse: Disable, Allow, Prefer (Npgsql's default), Require, VerifyCA or VerifyFull.</summary>
    [Parameter(ParameterSetName = ByServer)]
    public SslMode? SslMode { get; set; }

    /// <summary>The CA certificate (PEM file on this machine) that VerifyCA and VerifyFull check the warehouse's certificate against.</summary>
    [Parameter(ParameterSetName = ByServer)]
    [ValidateNotNullOrEmpty]
    public string? RootCertificate { get; set; }

    /// <summary>
    /// Seconds one statement may run before the module cancels it (default 1800: a day's build fits many times over);
    /// 0 waits forever. A connection string's own Command Timeout wins.
    /// </summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int CommandTimeout { get; set; } = ConnectionRequest.DefaultCommandTimeoutSeconds;

    /// <summary>Return the connection without making it the session default.</summary>
    [Parameter]
    public SwitchParameter NoDefault { get; set; }

    protected override void EndProcessing()
    {
        var request = ParameterSetName == ByConnectionString
            ? new ConnectionRequest { ConnectionString = ConnectionString, CommandTimeoutSeconds = CommandTimeout }
            : new ConnectionRequest
            {
                Server = Server,
                Port = Port,
                Database = Database,
                User = Credential?.UserName ?? Environment.UserName,
                Password = Credential?.GetNetworkCredential().Password,
                CommandTimeoutSeconds = CommandTimeout,
                SslMode = SslMode,
                RootCertificate = RootCertificate is null ? null : GetUnresolvedProviderPathFromPSPath(RootCertificate),
            };
        try
        {
            var connection = Run(cancel => WarehouseConnector.ConnectAsync(request, Logger, cancel));
            if (!NoDefault) DefaultConnection.Set(connection);
            WriteObject(connection);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
