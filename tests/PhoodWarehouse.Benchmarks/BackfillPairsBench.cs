namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// Rows b and c alone, several times in one run (--backfill-only [--runs N] [--throttle N]): each run streams the same
/// year of one source into a fresh tenant's single table (b, the one-stream limit) and then backfills another fresh tenant
/// with the module (c), so every ratio c/b pairs two loads made seconds apart on the same machine. b alone moves by
/// about ±20 % from run to run; issue 31 asks for several runs of c against b, and the median with the count of runs
/// within the target is what docs/performance.md records.
/// </summary>
internal sealed partial class Bench
{
    private const double BackfillTarget = 1.5;

    public async Task BackfillPairsAsync(ResultTable table, int runs, int throttle)
    {
        var days = options.ThroughputDays;
        var rows = options.ThroughputRows;
        Console.WriteLine($"Backfill pairs: {runs} runs of b then c, one tenant, {days} days x {rows} rows ({days * rows:N0} rows), throttle {throttle}...");
        var source = await SourceAsync(days, rows, 1);
        var from = today.AddDays(-(days - 1));
        var ratios = new List<double>();
        for (var run = 1; run <= runs; run++)
        {
            var stream = $"bp_stream_{run}";
            var module = $"bp_module_{run}";
            await TenantAsync(stream, source);
            await TenantAsync(module, source);
            await QuiesceAsync();
            var limit = await StreamYearAsync(stream, from);
            await QuiesceAsync();
            if (options.Profile && run == 1) await ExecAsync(Super(), "SELECT pg_stat_reset()");
            var started = await ScalarAsync<DateTime>(Whadmin, "SELECT clock_timestamp()");
            var (backfill, failed) = await BackfillAsync([module], days, throttle);
            var phases = await BackfillPhasesAsync(module, started);
            if (options.Profile && run == 1) Console.WriteLine("Row c1, " + await FunctionProfileAsync());
            var ratio = backfill.TotalSeconds / limit.TotalSeconds;
            ratios.Add(ratio);
            table.Add($"b{run}", $"one dblink stream into one table + 3 indexes + ANALYZE (run {run})", Seconds(limit));
            table.Add($"c{run}", $"module backfill, throttle {throttle} (run {run}, {failed} failed; {phases})", Seconds(backfill),
                $"b{run}", Ratio(backfill, limit), $"c <= {BackfillTarget} x b", Met(ratio <= BackfillTarget));
            await using var cleanup = new NpgsqlConnection(Whadmin);
            await cleanup.OpenAsync();
            foreach (var t in new[] { stream, module }) await Exec(cleanup, $"SELECT _wh.remove_tenant('{t}')");
        }
        var sorted = ratios.Order().ToList();
        var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        var within = ratios.Count(r => r <= BackfillTarget);
        table.Add("c/b", $"median of {runs} runs ({string.Join(", ", sorted.Select(r => $"{r:0.00}"))}); {within} of {runs} within {BackfillTarget}x",
            $"{median:0.00}x", "", "", $"median <= {BackfillTarget}x", Met(median <= BackfillTarget));
    }

    /// <summary>
    /// Where a backfill's time went, from its run-log rows: when the first day was logged (planning, connections, the
    /// first batch), the last closed day (the bulk of the rows), and the last day (yesterday and today, and the deferred
    /// build of the closed table's indexes in one of them), each in seconds from <paramref name="started"/>; what
    /// follows the last day is finishing the window (ANALYZE, the tenant and public views).
    /// </summary>
    private async Task<string> BackfillPhasesAsync(string tenant, DateTime started)
    {
        await using var db = new NpgsqlConnection(Whadmin);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT extract(epoch FROM min(logged_at) - @s)::float8,
                   extract(epoch FROM max(logged_at) FILTER (WHERE target_date < _wh.tenant_today(@t) - 1) - @s)::float8,
                   extract(epoch FROM max(logged_at) - @s)::float8
            FROM _wh.run_log WHERE tenant_schema = @t AND action = 'created'
            """, db);
        command.Parameters.AddWithValue("s", started);
        command.Parameters.AddWithValue("t", tenant);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        string At(int i) => reader.IsDBNull(i) ? "?" : $"{reader.GetDouble(i):0.00}";
        return $"first day logged at {At(0)} s, last closed day {At(1)} s, last day {At(2)} s";
    }

    /// <summary>Row b: the year of the template's query from <paramref name="from"/> to today, one dblink stream.</summary>
    private async Task<TimeSpan> StreamYearAsync(string tenant, DateOnly from)
    {
        var watch = Stopwatch.StartNew();
        await using var db = new NpgsqlConnection(Whadmin);
        await db.OpenAsync();
        var query = await Scalar<string>(db,
            "SELECT replace(replace(query_template, '''{TARGET_DATE}''::date + 1', @to), '{TARGET_DATE}', @from) FROM _wh.mv_templates WHERE template_name = 'foodlogstats'",
            ("to", $"'{today.AddDays(1):yyyy-MM-dd}'::date"), ("from", from.ToString("yyyy-MM-dd")));
        await StreamIntoOneTableAsync(db, tenant, "all_days", query);
        return watch.Elapsed;
    }
}
