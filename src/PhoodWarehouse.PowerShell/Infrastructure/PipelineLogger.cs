using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// Core logs through Microsoft.Extensions.Logging, from any thread; PowerShell's streams may only be written
/// on the pipeline thread. This logger queues each message; the cmdlet drains the queue on its own thread:
/// Information → Verbose, Debug/Trace → Debug, Warning → Warning, Error/Critical → Warning (errors themselves
/// arrive as exceptions and become error records).
/// </summary>
internal sealed class PipelineLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> queue = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        queue.Enqueue((logLevel, formatter(state, exception)));
    }

    public bool TryDequeue(out (LogLevel Level, string Message) entry) => queue.TryDequeue(out entry);
}
