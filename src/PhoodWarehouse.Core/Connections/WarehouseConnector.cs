namespace PhoodWarehouse.Core.Connections;

/// <summary>Opens a connection to a warehouse database and checks it before anyone relies on it.</summary>
public static class WarehouseConnector
{
    public static async Task<WhConnection> ConnectAsync(ConnectionRequest request, ILogger logger, CancellationToken cancel)
    {
        var builder = request.ToBuilder();
        var server = builder.Host ?? "localhost";
        var database = builder.Database ?? builder.Username ?? "postgres";
        logger.LogDebug("Connecting to {Database} on {Server}:{Port} as {User}", database, server, builder.Port, builder.Username);

        var dataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
        try
        {
            // Pinned before the first query: this may be an admin session, which resolves no name where whadmin writes.
            await using var session = await CatalogSession.OpenAsync(dataSource, cancel);
            var connection = session.Db;
            await using var command = new NpgsqlCommand(
                $"""
                SELECT current_user,
                       pg_catalog.current_setting('server_version'),
                       {CatalogSql.IsSuperuser},
                       {CatalogSql.WarehouseReadable}
                """, connection);
            await using var reader = await command.ExecuteReaderAsync(cancel);
            await reader.ReadAsync(cancel);
            var user = reader.GetString(0);
            var version = reader.GetString(1);
            var superuser = reader.GetBoolean(2);
            var installed = reader.GetBoolean(3);
            await reader.DisposeAsync();

            var whConnection = new WhConnection(dataSource, builder, server, builder.Port, database, user, version, null, superuser);
            // A superuser reads no _wh table: one could have become a view that runs whadmin's code (docs/security.md).
            if (installed && !superuser) whConnection.WarehouseVersion = await WarehouseVersionReader.ReadAsync(connection, cancel);
            logger.LogInformation("Connected to {Target} as {User} (PostgreSQL {Version}, warehouse {WarehouseVersion})",
                whConnection.Target, user, version, whConnection.WarehouseVersion ?? "not installed");
            if (superuser) logger.LogWarning("{Warning}", SuperuserSession.Warning(whConnection));
            return whConnection;
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            await dataSource.DisposeAsync();
            var certificate = ConnectionErrors.Innermost(error) is System.Security.Authentication.AuthenticationException
                ? await TlsDiagnosis.ProbeAsync(builder, cancel)
                : null;
            throw ConnectionErrors.Translate(error, server, builder.Port, database, builder.Username, certificate);
        }
    }
}
