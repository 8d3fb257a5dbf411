using System.Management.Automation;
using System.Net;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A fresh warehouse database and a hosted PowerShell session connected to it as whadmin: the starting point of
/// most cmdlet tests. Tenant sources are created on demand in the same cluster.
/// </summary>
public sealed class WarehouseScenario : IDisposable
{
    private WarehouseScenario(PostgresServer server, string database)
    {
        Server = server;
        Database = database;
        Shell = new HostedPowerShell();
        var connect = Shell.Run("Connect-WhWarehouse -ConnectionString $cs | Out-Null",
            new Dictionary<string, object?> { ["cs"] = server.ConnectionString(database, "whadmin") });
        if (!connect.Succeeded) throw new InvalidOperationException(string.Join("; ", connect.AllErrors));
        // Scripts say $WarehouseToday where a user would say [datetime]::Today: the warehouse's day, not this host's.
        Shell.SetVariable("WarehouseToday", WarehouseClock.Today(SuperuserConnectionString).ToDateTime(TimeOnly.MinValue));
    }

    public PostgresServer Server { get; }
    public string Database { get; }
    public HostedPowerShell Shell { get; }
    public string SuperuserConnectionString => Server.ConnectionString(Database);

    public static async Task<WarehouseScenario> StartAsync(PostgresServer server, string? database = null) =>
        new(server, database ?? await server.CreateWarehouseAsync());

    public static PSCredential Credential(string user, string password) => new(user, new NetworkCredential("", password).SecurePassword);

    public ScriptResult Run(string script, IDictionary<string, object?>? variables = null) => Shell.Run(script, variables);

    /// <summary>Adds a tenant over New-WhTenant, reading from <paramref name="source"/>; fails the test if it fails.</summary>
    public ScriptResult AddTenant(string name, TenantSource source, string extra = "")
    {
        var result = Run($"New-WhTenant -Name {name} -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c {extra}",
            SourceVariables(source));
        if (!result.Succeeded) throw new InvalidOperationException(string.Join("; ", result.AllErrors));
        return result;
    }

    public static Dictionary<string, object?> SourceVariables(TenantSource source) => new()
    {
        ["h"] = source.Host, ["p"] = source.Port, ["d"] = source.Database,
        ["c"] = Credential(source.ReaderUser, source.ReaderPassword),
    };

    public Task<string> SnapshotAsync() => CatalogSnapshot.TakeAsync(SuperuserConnectionString);

    /// <summary>Today on the warehouse's clock, or on the tenant's when it has its own time zone (see <see cref="WarehouseClock"/>).</summary>
    public Task<DateOnly> TodayAsync(string? tenantSchema = null) => WarehouseClock.TodayAsync(SuperuserConnectionString, tenantSchema);

    public async Task<T?> ScalarAsync<T>(string sql, string? user = null)
    {
        await using var db = await Server.OpenAsync(Database, user);
        await using var command = new NpgsqlCommand(sql, db);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T));
    }

    /// <summary>Rows of the source for one day, counted in the source itself.</summary>
    public async Task<long> SourceRowsAsync(TenantSource source, DateOnly day)
    {
        await using var db = await Server.OpenAsync(source.Database);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM phood_foodlogsum WHERE logged_time >= @d AND logged_time < @d + 1", db);
        command.Parameters.AddWithValue("d", day);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Disconnects (the module's data source closes its pooled connections) and closes the test's idle pooled
    /// connections: every scenario has its own database, and idle pools of finished scenarios would otherwise fill
    /// the throwaway cluster's max_connections (100) in a full run.
    /// </summary>
    public void Dispose()
    {
        try { Shell.Run("Disconnect-WhWarehouse"); } catch (Exception) { /* best effort: the shell goes anyway */ }
        Shell.Dispose();
        NpgsqlConnection.ClearAllPools();
    }
}
