namespace PhoodWarehouse.Core.Connections;

/// <summary>How to reach a warehouse: a connection string, or server/port/database/user/password.</summary>
public sealed record ConnectionRequest
{
    public string? ConnectionString { get; init; }
    public string? Server { get; init; }
    public int Port { get; init; } = 5432;
    public string Database { get; init; } = "phood_warehouse";
    public string? User { get; init; }
    public string? Password { get; init; }
    public string ApplicationName { get; init; } = "PhoodWarehouse";
    /// <summary>TLS to the warehouse (null: Npgsql's default, Prefer).</summary>
    public SslMode? SslMode { get; init; }
    /// <summary>The CA file VerifyCA and VerifyFull check the warehouse's certificate against.</summary>
    public string? RootCertificate { get; init; }
    public int ConnectTimeoutSeconds { get; init; } = 10;

    /// <summary>
    /// How long one statement may run before the module cancels it (Connect-WhWarehouse -CommandTimeout). Finite, so
    /// that nothing waits forever; long enough for the longest statement the module sends, one day's build
    /// (docs/security.md, finding 3). 0 means no limit. A connection string's own Command Timeout wins.
    /// </summary>
    public int CommandTimeoutSeconds { get; init; } = DefaultCommandTimeoutSeconds;

    public const int DefaultCommandTimeoutSeconds = 1800;

    internal NpgsqlConnectionStringBuilder ToBuilder()
    {
        var builder = ConnectionString is null ? new NpgsqlConnectionStringBuilder() : Parse(ConnectionString);
        if (ConnectionString is null)
        {
            builder.Host = Server ?? "localhost";
            builder.Port = Port;
            builder.Database = Database;
            builder.Username = User;
            builder.Password = Password;
            if (SslMode is { } mode) builder.SslMode = mode;
            if (RootCertificate is not null) builder.RootCertificate = RootCertificate;
        }
        if (ConnectionString is null || !ConnectionString.Contains("command timeout", StringComparison.OrdinalIgnoreCase))
            builder.CommandTimeout = CommandTimeoutSeconds;
        // dblink reports why a tenant's source refused (wrong password, unknown database) in the error detail.
        builder.IncludeErrorDetail = true;
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = ApplicationName;
        if (ConnectionString is null || !ConnectionString.Contains("timeout", StringComparison.OrdinalIgnoreCase))
            builder.Timeout = ConnectTimeoutSeconds;
        // No startup parameter (Options): a connection pooler refuses them (PgBouncer: "unsupported startup parameter:
        // options"). Settings the module needs are set for the transaction that needs them, or are whadmin's role
        // settings (jit = off, sql/wh/24-privileges-and-version.sql); see docs/deployment.md.
        // Days run in parallel: keep enough pooled connections for a throttle of up to 16 plus the coordinator.
        if (builder.MaxPoolSize < 20) builder.MaxPoolSize = 20;
        return builder;
    }

    /// <summary>
    /// InvalidConnectionString for a string Npgsql cannot read. Npgsql's own message is left out, and so is the
    /// exception: it may quote part of the string, and a misplaced ';' puts part of a password where a key goes.
    /// </summary>
    private static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception error) when (error is ArgumentException or FormatException or KeyNotFoundException or InvalidCastException or OverflowException)
        {
            throw new WarehouseException("InvalidConnectionString", WhErrorKind.InvalidArgument,
                "-ConnectionString is not a connection string Npgsql can read: each part must be Key=Value with a key it knows " +
                "(Host, Port, Database, Username, Password, SSL Mode, ...) and a value of the key's type, parts separated by ';' " +
                "(quote a value that holds ';' with double quotes). Nothing was opened.");
        }
    }
}
