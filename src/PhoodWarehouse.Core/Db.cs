using Npgsql;
using PhoodWarehouse.Core.Connections;

namespace PhoodWarehouse.Core;

/// <summary>Small helpers for the SQL the client sends: commands with parameters, and whadmin-owned transactions.</summary>
internal static class Db
{
    public static NpgsqlCommand Command(NpgsqlConnection db, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, db) { CommandTimeout = 0 };
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

    /// <summary>
    /// Begins a transaction in which everything created belongs to whadmin (architecture: ownership rule),
    /// whether the session logged in as whadmin or as a superuser.
    /// </summary>
    public static async Task<NpgsqlTransaction> BeginAsWhadminAsync(NpgsqlConnection db, WhConnection connection, CancellationToken cancel)
    {
        var transaction = await db.BeginTransactionAsync(cancel);
        if (connection.IsSuperuser) await ExecuteAsync(db, "SET LOCAL ROLE whadmin", cancel);
        return transaction;
    }

    /// <summary>A double-quoted SQL identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";
}
