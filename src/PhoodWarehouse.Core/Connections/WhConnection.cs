namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// An open, checked connection to a warehouse database. What users see is secret-free;
/// the data source (which holds the password) stays internal.
/// </summary>
public sealed class WhConnection : IDisposable
{
    private readonly NpgsqlDataSource dataSource;
    /// <summary>The connection settings without user and password: the base of a second login (install).</summary>
    private readonly NpgsqlConnectionStringBuilder settings;

    internal WhConnection(NpgsqlDataSource dataSource, NpgsqlConnectionStringBuilder settings, string server, int port,
        string database, string user, string serverVersion, string? warehouseVersion, bool isSuperuser)
    {
        this.dataSource = dataSource;
        this.settings = new NpgsqlConnectionStringBuilder(settings.ConnectionString) { Password = null, Username = null };
        Server = server;
        Port = port;
        Database = database;
        User = user;
        ServerVersion = serverVersion;
        WarehouseVersion = warehouseVersion;
        IsSuperuser = isSuperuser;
    }

    /// <summary>
    /// Where warehouse work runs. A superuser session never gets it (docs/security.md): whadmin owns the code of
    /// <c>_wh</c>, and any trigger or function whadmin changed would run with the superuser's rights.
    /// </summary>
    internal NpgsqlDataSource DataSource => IsSuperuser ? throw SuperuserSession.Refusal(this) : dataSource;

    /// <summary>For readers of pg_catalog only and for the installer's superuser part: never touches a <c>_wh</c> object.</summary>
    internal NpgsqlDataSource CatalogDataSource => dataSource;

    /// <summary>The same server, database, SSL and timeout settings, logged in as <paramref name="user"/>.</summary>
    internal ConnectionRequest SameServerAs(string user, string password)
    {
        var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString) { Username = user, Password = password };
        return new ConnectionRequest { ConnectionString = builder.ConnectionString };
    }

    public string Server { get; }
    public int Port { get; }
    public string Database { get; }
    public string User { get; }
    public string ServerVersion { get; }
    /// <summary>The installed <c>_wh</c> schema version, or null when the warehouse is not installed.</summary>
    public string? WarehouseVersion { get; internal set; }
    /// <summary>A superuser (or, on RDS, a member of rds_superuser): may install and read pg_catalog, nothing else.</summary>
    public bool IsSuperuser { get; }
    public bool IsDisposed { get; private set; }

    /// <summary>Where this connection points, for messages: never holds a password.</summary>
    public string Target => $"{Database} on {Server}:{Port}";

    public override string ToString() => $"{User}@{Server}:{Port}/{Database}";

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        dataSource.Dispose();
    }
}
