using System.Diagnostics;
using System.Text;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>Small helpers for SQL-layer tests: run statements as a role, expect errors, read rows, run psql.</summary>
internal static class SqlKit
{
    /// <summary>Opens a connection (unpooled, so session state such as application_name never leaks between tests).</summary>
    public static async Task<NpgsqlConnection> OpenAsync(PostgresServer server, string database, string? user = null,
        string? password = null, string? applicationName = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionString(database, user, password))
        {
            Pooling = false,
            ApplicationName = applicationName ?? "phood-sql-tests",
        };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static NpgsqlCommand Command(NpgsqlConnection db, string sql, object?[] args)
    {
        var command = new NpgsqlCommand(sql, db) { CommandTimeout = 120 };
        foreach (var arg in args) command.Parameters.Add(new NpgsqlParameter { Value = arg ?? DBNull.Value });
        return command;
    }

    /// <summary>Runs a statement on a connection of its own (pooled or not, as the connection string says).</summary>
    public static async Task ExecAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await db.ExecAsync(sql);
    }

    /// <summary>The first value of a query run on a connection of its own, converted to <typeparamref name="T"/>.</summary>
    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db);
        var value = (await command.ExecuteScalarAsync())!;
        return value is T typed ? typed : (T)Convert.ChangeType(value, typeof(T));
    }

    /// <summary>Runs a statement; positional parameters are $1, $2, …</summary>
    public static async Task ExecAsync(this NpgsqlConnection db, string sql, params object?[] args)
    {
        await using var command = Command(db, sql, args);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(this NpgsqlConnection db, string sql, params object?[] args)
    {
        await using var command = Command(db, sql, args);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)value;
    }

    public static async Task<List<object?[]>> RowsAsync(this NpgsqlConnection db, string sql, params object?[] args)
    {
        await using var command = Command(db, sql, args);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    public static async Task<List<string>> ColumnAsync(this NpgsqlConnection db, string sql, params object?[] args) =>
        (await db.RowsAsync(sql, args)).Select(r => r[0]?.ToString() ?? "").ToList();

    /// <summary>The statement must fail with a PostgreSQL error (optionally with one of the given SQLSTATEs).</summary>
    public static async Task<PostgresException> FailsAsync(this NpgsqlConnection db, string sql, string[]? sqlStates, params object?[] args)
    {
        try
        {
            await db.ExecAsync(sql, args);
        }
        catch (PostgresException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.MessageText), "the error has a message");
            if (sqlStates is not null)
                Assert.True(sqlStates.Contains(e.SqlState), $"SQLSTATE {e.SqlState} ({e.MessageText}) not in [{string.Join(", ", sqlStates)}] for: {sql}");
            return e;
        }
        Assert.Fail($"expected an error from: {sql}");
        throw new UnreachableException();
    }

    public static Task<PostgresException> FailsAsync(this NpgsqlConnection db, string sql) => db.FailsAsync(sql, null);

    public const string InsufficientPrivilege = "42501";

    /// <summary>Registers a tenant connection to <paramref name="source"/> as the guide does (step 2: a plain INSERT).</summary>
    public static Task AddConnectionAsync(this NpgsqlConnection db, string name, TenantSource source, string? password = null) =>
        db.ExecAsync("INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES ($1, $2, $3, $4, $5, $6)",
            name, source.Host, source.Port, source.Database, source.ReaderUser, password ?? source.ReaderPassword);

    /// <summary>Rows of the tenant source for one day, counted in the source itself.</summary>
    public static Task<long> SourceRowsAsync(PostgresServer server, TenantSource source, DateOnly day) =>
        SourceRowsAsync(server.ConnectionString(source.Database), day);

    /// <summary>Rows of one day in the source database <paramref name="sourceConnectionString"/> points to.</summary>
    public static async Task<long> SourceRowsAsync(string sourceConnectionString, DateOnly day)
    {
        await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(sourceConnectionString) { Pooling = false }.ConnectionString);
        await db.OpenAsync();
        return await db.ScalarAsync<long>(
            "SELECT count(*) FROM phood_foodlogsum WHERE logged_time >= $1 AND logged_time < $1 + 1", day);
    }

    public static async Task<long> SourceRowsAsync(PostgresServer server, TenantSource source, DateOnly from, DateOnly to)
    {
        await using var db = await OpenAsync(server, source.Database);
        return await db.ScalarAsync<long>(
            "SELECT count(*) FROM phood_foodlogsum WHERE logged_time >= $1 AND logged_time < $2 + 1", from, to);
    }

    /// <summary>Adds <paramref name="rows"/> rows for <paramref name="day"/> to a source (ids above anything generated).</summary>
    public static Task AddSourceRowsAsync(PostgresServer server, TenantSource source, DateOnly day, int rows) =>
        AddSourceRowsAsync(server.ConnectionString(source.Database), day, rows);

    /// <summary>The same, in the source database <paramref name="sourceConnectionString"/> points to.</summary>
    public static async Task AddSourceRowsAsync(string sourceConnectionString, DateOnly day, int rows)
    {
        await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(sourceConnectionString) { Pooling = false }.ConnectionString);
        await db.OpenAsync();
        await db.ExecAsync(
            """
            INSERT INTO phood_foodlogsum (id, logged_time, location_id, station, food_name, waste_reason, meal_period, weight, cost)
            SELECT (SELECT coalesce(max(id), 0) FROM phood_foodlogsum) + g, $1::date + make_interval(mins => g), 1,
                   'grill', 'rice', 'spoilage', 'lunch', 1.5, 2.25
            FROM generate_series(1, $2) AS g
            """, day, rows);
    }

    /// <summary>Today on the test cluster's clock (see <see cref="WarehouseClock"/>), never the host's.</summary>
    public static DateOnly Today(PostgresServer server) => WarehouseClock.ServerToday(server.ConnectionString());

    public static string ViewName(string template, DateOnly day) => $"{template}_{day:yyyy_MM_dd}";

    /// <summary>Runs psql with a password file (so \c to another user works as for a DBA), in <paramref name="workingDirectory"/>.</summary>
    public static Task<PsqlResult> PsqlAsync(PostgresServer server, string workingDirectory, string database, string user,
        string script, IReadOnlyDictionary<string, string> passwords)
    {
        var cluster = server.Cluster ?? throw new InvalidOperationException("the psql route needs the local throwaway cluster");
        return PsqlAsync(cluster, workingDirectory, database, user, script, passwords);
    }

    /// <summary>Runs psql against <paramref name="cluster"/> (see the overload above).</summary>
    public static async Task<PsqlResult> PsqlAsync(PhoodWarehouse.Core.Local.LocalPostgresCluster cluster, string workingDirectory,
        string database, string user, string script, IReadOnlyDictionary<string, string> passwords)
    {
        var passFile = Path.Combine(workingDirectory, ".pgpass-" + Guid.NewGuid().ToString("N"));
        static string Escape(string value) => value.Replace("\\", "\\\\").Replace(":", "\\:");
        await File.WriteAllLinesAsync(passFile,
            passwords.Select(p => $"{cluster.Host}:{cluster.Port}:*:{Escape(p.Key)}:{Escape(p.Value)}"), new UTF8Encoding(false));
        File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var scriptFile = Path.Combine(workingDirectory, "script-" + Guid.NewGuid().ToString("N") + ".psql");
        await File.WriteAllTextAsync(scriptFile, script, new UTF8Encoding(false));
        try
        {
            var start = new ProcessStartInfo("/usr/bin/psql")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "-X", "-v", "ON_ERROR_STOP=1", "-h", cluster.Host, "-p", cluster.Port.ToString(),
                         "-U", user, "-d", database, "-f", scriptFile })
                start.ArgumentList.Add(arg);
            start.Environment["PGPASSFILE"] = passFile;
            start.Environment["PGCLIENTENCODING"] = "UTF8";
            start.Environment.Remove("PGPASSWORD");
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            return new PsqlResult(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            File.Delete(passFile);
            File.Delete(scriptFile);
        }
    }
}

internal sealed record PsqlResult(int ExitCode, string Output, string Errors)
{
    public void AssertSucceeded()
    {
        Assert.True(ExitCode == 0, $"psql exited {ExitCode}\n--- stderr\n{Errors}\n--- stdout\n{Output}");
        Assert.DoesNotContain("ERROR:", Errors);
    }
}

/// <summary>A warehouse database and a tenant source with one registered connection, shared by the tests of one class.</summary>
internal sealed record SharedWarehouse(string Database, TenantSource Source, string Connection)
{
    public static async Task<SharedWarehouse> CreateAsync(PostgresServer server, int days = 8, int rowsPerDay = 20, DateOnly? firstDay = null)
    {
        var database = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days, rowsPerDay, firstDay);
        var connection = PostgresServer.UniqueName("conn");
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.AddConnectionAsync(connection, source);
        return new SharedWarehouse(database, source, connection);
    }
}

/// <summary>Creates a value once per test run, on first use (tests of a class run one after another).</summary>
internal sealed class Once<T>
{
    private readonly object gate = new();
    private Task<T>? task;

    public Task<T> Get(Func<Task<T>> factory)
    {
        lock (gate) return task ??= factory();
    }
}
