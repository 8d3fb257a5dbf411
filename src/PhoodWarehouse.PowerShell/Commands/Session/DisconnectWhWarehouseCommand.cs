namespace PhoodWarehouse.PowerShell.Commands.Session;

/// <summary>Closes a warehouse connection (the session default unless -Connection is given) and its pooled sessions.</summary>
[Cmdlet(VerbsCommunications.Disconnect, "WhWarehouse")]
[OutputType(typeof(void))]
public sealed class DisconnectWhWarehouseCommand : WhCmdlet
{
    protected override void EndProcessing()
    {
        var connection = Connection ?? DefaultConnection.Current;
        if (connection is null)
        {
            WriteVerbose("Not connected: nothing to disconnect.");
            return;
        }
        DefaultConnection.Clear(connection);
        connection.Dispose();
        WriteVerbose($"Disconnected from {connection.Target}.");
    }
}
