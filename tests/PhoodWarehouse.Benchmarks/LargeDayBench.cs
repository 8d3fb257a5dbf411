using System.Globalization;

namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// Rows k0-k4 (--large-day): one closed day of 200,000 rows, loaded by the module (a daily materialized view), compacted
/// into &lt;template&gt;_closed, checked (Test-WhMv's DayChecker), and, after one value of one row was changed in the
/// warehouse, repaired (Repair-WhMv's path: the force re-load of a compacted day), each timed against the one-stream
/// limit k0 (the same rows through one dblink stream into one table with the same three indexes, ANALYZE), as rows
/// b and c compare a year. While each step runs, the memory of every client backend is sampled from /proc (RssAnon:
/// the backend's private memory, without the shared buffers it touched), split into warehouse and source backends, and
/// so is this process's working set. What bounds them: dblink keeps the remote result in a tuplestore that spills to
/// disk past work_mem, index builds use maintenance_work_mem, the check hashes rows as they stream (only counts and
/// sums cross dblink), and the client receives one JSON summary per day, never a row.
/// </summary>
internal sealed partial class Bench
{
    private const int LargeDayRows = 200_000;

    public async Task LargeDayAsync(ResultTable table)
    {
        var day = today.AddDays(-5);
        Console.WriteLine($"Large day: one closed day ({day:yyyy-MM-dd}) of {LargeDayRows:N0} rows...");
        var source = await SourceAsync(1, LargeDayRows, 7, firstDay: day);
        foreach (var t in new[] { "ld_stream", "ld_module" }) await TenantAsync(t, source);

        var (limit, limitMemory) = await SampledAsync(async () =>
        {
            await using var db = new NpgsqlConnection(Whadmin);
            await db.OpenAsync();
            var query = await Scalar<string>(db,
                "SELECT _wh.render_template_text(query_template, 'ld_stream', 'all_rows', @d) FROM _wh.mv_templates WHERE template_name = 'foodlogstats'", ("d", day));
            await StreamIntoOneTableAsync(db, "ld_stream", "all_rows", query);
        });
        var streamed = await ScalarAsync<long>(Whadmin, "SELECT count(*) FROM ld_stream.all_rows");
        table.Add("k0", $"limit: one dblink stream of the day into one table + the same 3 indexes + ANALYZE ({streamed:N0} rows)", Seconds(limit));
        table.Add("", "  " + limitMemory, "");

        using var connection = await Connect(Whadmin);
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var (load, loadMemory) = await SampledAsync(async () =>
        {
            var plan = await runner.PlanAsync(new BackfillRequest { Tenants = ["ld_module"], Templates = ["foodlogstats"], From = day, To = day }, default);
            await foreach (var result in runner.RunAsync(plan, default))
                if (result.Action != MvAction.Created) Console.WriteLine($"  load: {result.Action} {result.Error}");
        });
        var loaded = await ScalarAsync<long>(Whadmin, "SELECT count(*) FROM ld_module.foodlogstats");
        AddLarge(table, "k1", $"module load of the day (BackfillRunner: a daily materialized view + 3 indexes; {loaded:N0} rows)", load, limit, 4, loadMemory);

        var (compact, compactMemory) = await SampledAsync(() => ExecAsync(Whadmin, "SELECT _wh.compact_closed_days('foodlogstats', 'ld_module')"));
        var kind = await ScalarAsync<string>(Whadmin, $"SELECT _wh.daily_relkind('ld_module', 'foodlogstats_{day:yyyy_MM_dd}')::text");
        AddLarge(table, "k2", $"compaction of the day into foodlogstats_closed (_wh.compact_closed_days; the day is now a {(kind == "v" ? "view" : "relkind " + kind)})",
            compact, limit, 2, compactMemory);

        var ((check, (_, checkedDays, matching)), checkMemory) = await SampledValueAsync(() => CheckAsync("ld_module", day, day));
        AddLarge(table, "k3", $"Test-WhMv of the day (DayChecker; {matching} of {checkedDays} Match)", check, limit, 2, checkMemory);

        await ExecAsync(Whadmin, "UPDATE ld_module.foodlogstats_closed SET food_name = food_name || '!' WHERE id = (SELECT min(id) + 77777 FROM ld_module.foodlogstats_closed)");
        var (_, damagedDays, damagedMatching) = await CheckAsync("ld_module", day, day);
        var (repair, repairMemory) = await SampledAsync(async () =>
        {
            var plan = await runner.PlanRepairAsync([("ld_module", "foodlogstats", day)], 4, default);
            await foreach (var _ in runner.RunAsync(plan, default)) { }
        });
        var (_, repairedDays, repairedMatching) = await CheckAsync("ld_module", day, day);
        AddLarge(table, "k4", $"Repair-WhMv of the day after one changed value (Match before: {damagedMatching} of {damagedDays}; after: {repairedMatching} of {repairedDays})",
            repair, limit, 4, repairMemory);
        var client = Process.GetCurrentProcess();
        table.Add("", $"  (client process: peak working set {client.PeakWorkingSet64 / 1048576.0:0} MiB over the whole run, managed heap now {GC.GetTotalMemory(true) / 1048576.0:0.0} MiB)", "");
    }

    private static void AddLarge(ResultTable table, string id, string what, TimeSpan elapsed, TimeSpan limit, int times, string memory)
    {
        table.Add(id, what, Seconds(elapsed), "k0", Ratio(elapsed, limit), $"{id} <= {times} x k0", Met(elapsed.TotalSeconds <= times * limit.TotalSeconds));
        table.Add("", "  " + memory, "");
    }

    private async Task<(TimeSpan Elapsed, string Memory)> SampledAsync(Func<Task> step)
    {
        var ((elapsed, _), memory) = await SampledValueAsync(async () => { await step(); return (TimeSpan.Zero, 0); });
        return (elapsed, memory);
    }

    /// <summary>Runs <paramref name="step"/> while sampling backend and client memory; returns its value, its time and the peaks.</summary>
    private async Task<((TimeSpan Elapsed, T Value), string Memory)> SampledValueAsync<T>(Func<Task<T>> step)
    {
        using var stop = new CancellationTokenSource();
        var sampler = SampleMemoryAsync(stop.Token);
        var watch = Stopwatch.StartNew();
        var value = await step();
        watch.Stop();
        await stop.CancelAsync();
        return ((watch.Elapsed, value), await sampler);
    }

    private async Task<string> SampleMemoryAsync(CancellationToken stop)
    {
        await using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Super("postgres")) { Pooling = false }.ConnectionString);
        await db.OpenAsync(CancellationToken.None);
        long warehouseOne = 0, warehouseAll = 0, sourceOne = 0, clientPeak = 0;
        var clientBefore = Process.GetCurrentProcess().WorkingSet64;
        while (!stop.IsCancellationRequested)
        {
            long all = 0;
            await using (var command = new NpgsqlCommand(
                "SELECT pid, datname = @w FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", db))
            {
                command.Parameters.AddWithValue("w", Warehouse);
                await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
                while (await reader.ReadAsync(CancellationToken.None))
                {
                    var kb = PrivateKb(reader.GetInt32(0));
                    if (reader.GetBoolean(1)) { warehouseOne = Math.Max(warehouseOne, kb); all += kb; }
                    else sourceOne = Math.Max(sourceOne, kb);
                }
            }
            warehouseAll = Math.Max(warehouseAll, all);
            clientPeak = Math.Max(clientPeak, Process.GetCurrentProcess().WorkingSet64);
            try { await Task.Delay(10, stop); } catch (OperationCanceledException) { }
        }
        return $"(peak private memory: one warehouse backend {warehouseOne / 1024.0:0.0} MiB, all warehouse backends {warehouseAll / 1024.0:0.0} MiB, " +
               $"one source backend {sourceOne / 1024.0:0.0} MiB; client working set {clientPeak / 1048576.0:0} MiB, {(clientPeak - clientBefore) / 1048576.0:+0;-0} MiB during the step)";
    }

    /// <summary>RssAnon of a process in kB (0 when it has ended or /proc is not there).</summary>
    private static long PrivateKb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
