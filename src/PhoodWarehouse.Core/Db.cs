namespace PhoodWarehouse.Core;

/// <summary>Small helpers for the SQL the client sends: commands with parameters, and transactions of warehouse work.</summary>
internal static class Db
{
    public static NpgsqlCommand Command(NpgsqlConnection db, string sql, params (string Name, object? Value)[] parameters)
    {
        // The timeout is the connection's (ConnectionRequest.CommandTimeoutSeconds): finite unless the user said 0.
        var command = new NpgsqlCommand(sql, db);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public static async Task<int> ExecuteAsync(NpgsqlConnection db, string sql, CancellationToken cancel, params (string, object?)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancel);
    }

    public static async Task<T?> ScalarAsync<T>(NpgsqlConnection db, string sql, CancellationToken cancel, params (string, object?)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancel);
        return value is null or DBNull ? default : (T)value;
    }

    /// <summary>Every row of <paramref name="sql"/>, each read by <paramref name="read"/>: the one reader loop of Core.</summary>
    public static async Task<List<T>> ReadAllAsync<T>(NpgsqlConnection db, string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancel,
        params (string, object?)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        return await ReadAllAsync(command, read, cancel);
    }

    /// <summary>Every row of a prepared <paramref name="command"/> (one inside a transaction, or with typed parameters).</summary>
    public static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken cancel)
    {
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancel)) rows.Add(read(reader));
        return rows;
    }

    /// <summary>
    /// Begins a transaction for warehouse work. The session is whadmin's own login (superuser sessions never get a
    /// data source for work, see <see cref="SuperuserSession"/>), so everything it creates belongs to whadmin.
    /// </summary>
    public static async Task<NpgsqlTransaction> BeginAsWhadminAsync(NpgsqlConnection db, WhConnection connection, CancellationToken cancel)
    {
        SuperuserSession.Refuse(connection);
        return await db.BeginTransactionAsync(cancel);
    }

    /// <summary>A double-quoted SQL identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";
}
