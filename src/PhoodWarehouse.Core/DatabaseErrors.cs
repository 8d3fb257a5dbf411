namespace PhoodWarehouse.Core;

/// <summary>
/// Turns what Npgsql or PostgreSQL throws during work into a <see cref="WarehouseException"/>: the server's
/// message, detail and hint, a stable id and a kind. The safety net under every Core operation.
/// </summary>
public static class DatabaseErrors
{
    public static WarehouseException Translate(Exception error, object? target = null)
    {
        if (error is WarehouseException known) return known;
        if (Timeout(error) is { } timeout) return new WarehouseException(timeout.Id, WhErrorKind.OperationFailed, timeout.Message, target, error);
        if (error is PostgresException pg)
        {
            var message = pg.MessageText;
            if (!string.IsNullOrEmpty(pg.Detail)) message += " " + pg.Detail;
            if (!string.IsNullOrEmpty(pg.Hint)) message += " " + pg.Hint;
            var (id, kind) = pg.SqlState switch
            {
                "42501" => ("PermissionDenied", WhErrorKind.PermissionDenied),
                "23505" or "42P06" or "42P07" => ("AlreadyExists", WhErrorKind.ResourceExists),
                "57014" => ("StatementCancelled", WhErrorKind.Cancelled),
                "22023" or "22007" or "22008" or "P0002" or "22004" => ("InvalidArgument", WhErrorKind.InvalidArgument),
                "3F000" or "42P01" or "42883" or "42704" => ("ObjectNotFound", WhErrorKind.ObjectNotFound),
                _ when pg.SqlState.StartsWith("08", StringComparison.Ordinal) => ("ConnectionFailed", WhErrorKind.ConnectionError),
                _ => ("DatabaseError", WhErrorKind.OperationFailed),
            };
            return new WarehouseException(id, kind, $"{message.Trim()} (SQLSTATE {pg.SqlState})", target, error);
        }
        if (error is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
            return new WarehouseException("ConnectionFailed", WhErrorKind.ConnectionError,
                $"Lost the connection to the warehouse: {Connections.ConnectionErrors.Innermost(error).Message}. Check the server, then run the command again: it resumes where it stopped.",
                target, error);
        return new WarehouseException("UnexpectedError", WhErrorKind.OperationFailed, Connections.ConnectionErrors.Innermost(error).Message, target, error);
    }

    /// <summary>
    /// The bounded waits of docs/security.md (finding 3), each with what happened and what to do. A timeout rolls back
    /// the transaction it stopped: the message says that nothing of it is left.
    /// </summary>
    private static (string Id, string Message)? Timeout(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException && error is NpgsqlException)
                return ("CommandTimeout",
                    "A statement ran longer than the module's command timeout and was cancelled; its transaction was rolled back, nothing of it is left. " +
                    "Run the command again (it resumes where it stopped), or connect with a longer Connect-WhWarehouse -CommandTimeout (seconds; default 1800).");
            if (e is PostgresException { SqlState: "55P03" } locked)
                return ("LockTimeout",
                    $"{locked.MessageText} (SQLSTATE 55P03). Nothing was changed. {locked.Hint ?? "Run it again when the long queries have finished, or raise _wh.warehouse_info lock_timeout."}");
            if (e is PostgresException { SqlState: "57014" } cancelled && (cancelled.MessageText + cancelled.Detail).Contains("statement timeout", StringComparison.Ordinal))
                return ("StatementTimeout",
                    $"{cancelled.MessageText}{(string.IsNullOrEmpty(cancelled.Detail) ? "" : " " + cancelled.Detail)} (SQLSTATE 57014). The statement ran longer than its statement_timeout " +
                    "(at a source: _wh.warehouse_info source_statement_timeout) and was cancelled; its transaction was rolled back, nothing of it is left.");
        }
        return null;
    }
}
