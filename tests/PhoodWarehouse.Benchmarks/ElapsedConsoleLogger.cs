using Microsoft.Extensions.Logging;

namespace PhoodWarehouse.Benchmarks;

/// <summary>
/// --trace: the module's log lines on the console, each with the seconds since the logger was made, to see where a
/// backfill's time goes between its run-log rows (planning, connections, the windows' ends).
/// </summary>
internal sealed class ElapsedConsoleLogger : ILogger
{
    private readonly Stopwatch clock = Stopwatch.StartNew();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Console.WriteLine($"  {clock.Elapsed.TotalSeconds,6:0.000} s  {logLevel,-11} {formatter(state, exception)}");
}
