namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// A connection whose names resolve in pg_catalog only, for the length of one transaction: what every admin session
/// (a superuser, a managed server's admin) runs in, so that no function or operator whadmin planted in public is chosen
/// over pg_catalog's (an overload beats pg_catalog for an untyped literal: architecture fact 14). SET LOCAL, not SET:
/// through a pooler in transaction mode a session setting would stay on the server connection for the next client.
/// Disposing it without <see cref="CommitAsync"/> rolls back.
/// </summary>
internal sealed class CatalogSession : IAsyncDisposable
{
    public const string PinSearchPath = "SET LOCAL search_path = pg_catalog, pg_temp";

    private readonly NpgsqlTransaction transaction;

    private CatalogSession(NpgsqlConnection db, NpgsqlTransaction transaction)
    {
        Db = db;
        this.transaction = transaction;
    }

    public NpgsqlConnection Db { get; }

    public static async Task<CatalogSession> OpenAsync(NpgsqlDataSource dataSource, CancellationToken cancel)
    {
        var db = await dataSource.OpenConnectionAsync(cancel);
        try
        {
            var transaction = await db.BeginTransactionAsync(cancel);
            await PhoodWarehouse.Core.Db.ExecuteAsync(db, PinSearchPath, cancel);
            return new CatalogSession(db, transaction);
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    public Task CommitAsync(CancellationToken cancel) => transaction.CommitAsync(cancel);

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await Db.DisposeAsync();
    }
}
