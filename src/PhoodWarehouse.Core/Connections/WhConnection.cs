using Npgsql;

namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// An open, checked connection to a warehouse database. What users see is secret-free;
/// the data source (which holds the password) stays internal.
/// </summary>
public sealed class WhConnection : IDisposable
{
    internal WhConnection(NpgsqlDataSource dataSource, string server, int port, string database, string user,
        string serverVersion, string? warehouseVersion, bool isSuperuser)
    {
        DataSource = dataSource;
        Server = server;
        Port = port;
        Database = database;
        User = user;
        ServerVersion = serverVersion;
        WarehouseVersion = warehouseVersion;
        IsSuperuser = isSuperuser;
    }

    internal NpgsqlDataSource DataSource { get; }

    public string Server { get; }
    public int Port { get; }
    public string Database { get; }
    public string User { get; }
    public string ServerVersion { get; }
    /// <summary>The installed <c>_wh</c> schema version, or null when the warehouse is not installed.</summary>
    public string? WarehouseVersion { get; internal set; }
    public bool IsSuperuser { get; }
    public bool IsDisposed { get; private set; }

    /// <summary>Where this connection points, for messages: never holds a password.</summary>
    public string Target => $"{Database} on {Server}:{Port}";

    public override string ToString() => $"{User}@{Server}:{Port}/{Database}";

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        DataSource.Dispose();
    }
}
