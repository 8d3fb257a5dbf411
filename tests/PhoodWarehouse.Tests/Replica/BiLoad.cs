using System.Collections.Concurrent;
using System.Diagnostics;

namespace PhoodWarehouse.Tests.Replica;

/// <summary>
/// What a BI tool does to a server all day, as phood_ro: long extracts on public.foodlogstats back to back (each holds
/// its locks and snapshot for <see cref="LongQuerySeconds"/>), and short queries every few milliseconds whose latency
/// is recorded. Every error is kept. Runs until <see cref="StopAsync"/>.
/// </summary>
internal sealed class BiLoad
{
    public const int LongQuerySeconds = 6;
    private readonly string connectionString;
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> loops = [];
    private long worstTicks;
    private long shortQueries;
    private long longQueries;

    public BiLoad(string name, string connectionString)
    {
        Name = name;
        this.connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "bi-" + name, CommandTimeout = 120 }.ConnectionString;
    }

    public string Name { get; }
    public ConcurrentQueue<string> Failures { get; } = new();
    public TimeSpan WorstShortQuery => TimeSpan.FromTicks(Interlocked.Read(ref worstTicks));
    public long ShortQueries => Interlocked.Read(ref shortQueries);
    public long LongQueries => Interlocked.Read(ref longQueries);

    /// <summary>Starts the loops once a long query holds its locks, so that everything after this call runs beside one.</summary>
    public async Task StartAsync()
    {
        var longStarted = new TaskCompletionSource();
        loops.Add(Task.Run(() => LongLoopAsync(longStarted)));
        loops.Add(Task.Run(ShortLoopAsync));
        await longStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task StopAsync()
    {
        stop.Cancel();
        await Task.WhenAll(loops);
    }

    public override string ToString() =>
        $"{Name}: {ShortQueries} short queries, worst {WorstShortQuery.TotalMilliseconds:0} ms; {LongQueries} long queries; {Failures.Count} failures";

    private async Task LongLoopAsync(TaskCompletionSource started)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var db = new NpgsqlConnection(connectionString);
                await db.OpenAsync();
                await using var query = new NpgsqlCommand(
                    $"SELECT (SELECT count(*) FROM public.foodlogstats), pg_sleep({LongQuerySeconds}), (SELECT sum(weight) FROM public.foodlogstats)", db);
                var running = query.ExecuteScalarAsync();
                // The locks are taken while the statement is planned: well within this pause.
                _ = Task.Delay(300).ContinueWith(_ => started.TrySetResult());
                await running;
                Interlocked.Increment(ref longQueries);
            }
            catch (Exception error) when (error is NpgsqlException)
            {
                Failures.Enqueue($"long query: {error.Message}");
                started.TrySetResult();
            }
        }
    }

    private async Task ShortLoopAsync()
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                await using var query = new NpgsqlCommand("SELECT count(*), max(logged_time) FROM public.foodlogstats WHERE client = 'rep_a'", db);
                await query.ExecuteScalarAsync();
                Interlocked.Increment(ref shortQueries);
            }
            catch (Exception error) when (error is NpgsqlException)
            {
                Failures.Enqueue($"short query: {error.Message}");
                if (db.State != System.Data.ConnectionState.Open) { await db.CloseAsync(); await db.OpenAsync(); }
            }
            var ticks = clock.Elapsed.Ticks;
            long seen;
            while (ticks > (seen = Interlocked.Read(ref worstTicks)) && Interlocked.CompareExchange(ref worstTicks, ticks, seen) != seen) { }
            await Task.Delay(20);
        }
    }
}
