using PhoodWarehouse.Tests.Sql;

namespace PhoodWarehouse.Tests.Monitoring;

/// <summary>
/// A warehouse whose tenants show what monitoring must see, all reading one source (T = the server's today):
/// <list type="bullet">
/// <item><c>m_gap</c>: T-4, T-3, T-1 and T loaded, T-2 missing (Gaps);</item>
/// <item><c>m_late</c>: T-4..T-1 loaded at (T-1) 23:00, so yesterday was read before it ended; at the monitoring clock
/// (T 03:00, an hour past the default SLA of 02:00:00) it is Late by 3600 s;</item>
/// <item><c>m_changed</c>: T-4..T loaded, T-3 checked at (T-2) 03:00 and found different from its source (Changed);</item>
/// <item><c>m_fail</c>: T-4..T loaded, then a failure of T-2 with SQLSTATE 08001 (Failing).</item>
/// </list>
/// The monitoring login stands at T 03:00 in this database (a role setting phood.now, honoured because the warehouse is
/// marked for tests), so the exporter and every other client it runs see the same clock.
/// </summary>
internal sealed record MonitoredWarehouse(string Database, DateOnly Today, string Connection)
{
    private static readonly Once<MonitoredWarehouse> Shared = new();

    public static Task<MonitoredWarehouse> GetAsync(PostgresServer server) => Shared.Get(() => CreateAsync(server));

    public string MonitorClock => $"{Today:yyyy-MM-dd} 03:00";

    private static async Task<MonitoredWarehouse> CreateAsync(PostgresServer server)
    {
        var env = await SharedWarehouse.CreateAsync(server, days: 6, rowsPerDay: 10);
        var today = SqlKit.Today(server);
        DateOnly Day(int offset) => today.AddDays(offset);
        await using (var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin"))
        {
            const string Load = "SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)";
            await wh.ExecAsync(Load, env.Connection, "m_gap", Day(-4), Day(-3));
            await wh.ExecAsync(Load, env.Connection, "m_gap", Day(-1), Day(0));
            await wh.ExecAsync(Load, env.Connection, "m_changed", Day(-4), Day(0));
            await wh.ExecAsync(Load, env.Connection, "m_fail", Day(-4), Day(0));
            // Found different two days before the monitoring clock (T 03:00): unrepaired for 172,800 s.
            await wh.ExecAsync($"SELECT _wh.record_check('m_changed', 'foodlogstats', $1, 'Changed', 10, 12, '{Day(-2):yyyy-MM-dd} 03:00')", Day(-3));
            await wh.ExecAsync("SELECT _wh.log_failure('foodlogstats', $1, 'm_fail', $2, 'could not connect to server: Connection refused', '08001')",
                env.Connection, Day(-2));
            await wh.ExecAsync($"SET phood.now = '{Day(-1):yyyy-MM-dd} 23:00'");
            await wh.ExecAsync(Load, env.Connection, "m_late", Day(-4), Day(-1));
        }
        var result = new MonitoredWarehouse(env.Database, today, env.Connection);
        await using (var admin = await SqlKit.OpenAsync(server, env.Database))
            await admin.ExecAsync($"ALTER ROLE phood_monitor IN DATABASE \"{env.Database}\" SET phood.now = '{result.MonitorClock}'");
        return result;
    }
}
