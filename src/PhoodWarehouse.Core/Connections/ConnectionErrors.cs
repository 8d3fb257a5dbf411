using System.Net.Security;
using System.Net.Sockets;

namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// Turns what Npgsql throws while connecting into a <see cref="WarehouseException"/> that says what to do.
/// The messages name server, port, database and user, never the password.
/// </summary>
internal static class ConnectionErrors
{
    public static WarehouseException Translate(Exception error, string server, int port, string database, string? user,
        SslPolicyErrors? certificate = null)
    {
        var where = $"{server}:{port}";
        switch (error)
        {
            case var _ when certificate is { } errors && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch):
                return new WarehouseException("CertificateHostMismatch", WhErrorKind.AuthenticationError,
                    $"The certificate of {where} is not issued for the host name '{server}' (VerifyFull checks it). Connect with " +
                    "-Server set to a name the certificate lists (an IP address only if it lists that address).",
                    where, error);
            case var _ when certificate is { } errors && errors != SslPolicyErrors.None:
                return new WarehouseException("CertificateUntrusted", WhErrorKind.AuthenticationError,
                    $"The certificate of {where} is not signed by the CA it is checked against. Give the server's CA with " +
                    "-RootCertificate (a PEM file on this machine; on RDS, global-bundle.pem), or check -SslMode.",
                    where, error);
            case PostgresException pg when pg.SqlState is "28P01" or "28000":
                return new WarehouseException("LoginRefused", WhErrorKind.AuthenticationError,
                    $"The server {where} refused the login of user '{user}' ({pg.MessageText}). Check the user name and password, and pg_hba.conf on the server.",
                    where, error);
            case PostgresException pg when pg.SqlState == "3D000":
                return new WarehouseException("DatabaseNotFound", WhErrorKind.ObjectNotFound,
                    $"The database '{database}' does not exist on {where}. Check -Database, or create the warehouse with sql/create.sql (see README).",
                    database, error);
            case PostgresException pg:
                return new WarehouseException("ConnectionFailed", WhErrorKind.ConnectionError,
                    $"Could not connect to {where}: {pg.MessageText} (SQLSTATE {pg.SqlState}).", where, error);
            case NpgsqlException { InnerException: SocketException or TimeoutException } or SocketException or TimeoutException:
                return new WarehouseException("ServerUnreachable", WhErrorKind.ConnectionError,
                    $"Could not reach PostgreSQL at {where}: {Innermost(error).Message}. Check that the server is running, the host and port are right, and a firewall lets you through.",
                    where, error);
            default:
                return new WarehouseException("ConnectionFailed", WhErrorKind.ConnectionError,
                    $"Could not connect to {where}: {Innermost(error).Message}", where, error);
        }
    }

    /// <summary>The exception at the bottom of <paramref name="error"/>'s chain (a socket's, a TLS handshake's).</summary>
    internal static Exception Innermost(Exception error)
    {
        while (error.InnerException is not null) error = error.InnerException;
        return error;
    }
}
