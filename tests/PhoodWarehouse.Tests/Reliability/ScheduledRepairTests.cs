namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Issue 27, item 3: a repair is finished by the schedule. The daily check's "checked today" marker used to be
/// committed before the repairs, so a day skipped as busy (or a repair a crash interrupted) stayed Changed for the rest
/// of the day, and a day that left the lookback window before its repair was never repaired. Now every run repairs
/// every closed day known to differ (its recorded check status), whatever its age, until a load clears it.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class ScheduledRepairTests(PostgresServer server)
{
    private DateOnly Day(int offset) => SqlKit.Today(server).AddDays(offset);

    [Fact]
    public async Task A_changed_day_left_busy_is_repaired_by_the_next_run_and_one_known_to_differ_outside_the_window_too()
    {
        var shared = await SharedWarehouse.CreateAsync(server, days: 14, rowsPerDay: 5);
        var schema = PostgresServer.UniqueName("repair");
        await using var wh = await SqlKit.OpenAsync(server, shared.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, $3, $4)", shared.Connection, schema, Day(-13), Day(0));
        var busy = Day(-4);
        var outside = Day(-11);
        await SqlKit.ExecAsync(server.ConnectionString(shared.Source.Database),
            $"UPDATE phood_foodlogsum SET weight = 77 WHERE logged_time::date IN ('{busy:yyyy-MM-dd}', '{outside:yyyy-MM-dd}')");
        // A DBA's check over the old day records it as Changed (Test-WhMv does the same).
        await wh.ExecAsync("SELECT count(*) FROM _wh.check_mv_window_by_template('foodlogstats', $1, $2, $3, $3)", shared.Connection, schema, outside);

        // Another session holds the changed day of the window while the job runs: it is checked, found Changed, skipped as busy.
        await using (var holder = await SqlKit.OpenAsync(server, shared.Database, "whadmin"))
        {
            await using var held = await holder.BeginTransactionAsync();
            await using (var lockDay = new NpgsqlCommand("SELECT _wh.lock_daily_view($1, $2)", holder, held))
            {
                lockDay.Parameters.AddWithValue(schema);
                lockDay.Parameters.AddWithValue(SqlKit.ViewName("foodlogstats", busy));
                await lockDay.ExecuteNonQueryAsync();
            }
            await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 7)", shared.Connection, schema);
            Assert.Equal(0L, await Weight77Async(wh, schema, busy));
            await held.RollbackAsync();
        }
        Assert.True(await Weight77Async(wh, schema, outside) > 0, "the day known to differ outside the window is repaired by the first run");

        // The next run, the same day: the busy day is repaired now (before, it stayed Changed until tomorrow's check).
        await wh.ExecAsync("CALL _wh.refresh_recent_by_template('foodlogstats', $1, $2, 7)", shared.Connection, schema);
        Assert.Equal(await SqlKit.SourceRowsAsync(server, shared.Source, busy), await Weight77Async(wh, schema, busy));
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.day_state WHERE schema_name = $1 AND check_status IN ('Changed', 'Missing')", schema));
        Assert.Equal(2L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'repaired'", schema));
    }

    private static Task<long> Weight77Async(NpgsqlConnection wh, string schema, DateOnly day) =>
        wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats WHERE weight = 77 AND logged_time::date = '{day:yyyy-MM-dd}'");
}
