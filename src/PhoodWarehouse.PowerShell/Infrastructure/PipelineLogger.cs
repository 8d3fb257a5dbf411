using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// Core logs through Microsoft.Extensions.Logging, from any thread; PowerShell's streams may only be written
/// on the pipeline thread. This logger queues each message and <see cref="WriteTo"/> drains the queue on the
/// cmdlet's thread: Information → Verbose, Debug/Trace → Debug, Warning/Error/Critical → Warning (errors themselves
/// arrive as exceptions and become error records). A level whose stream nobody listens to is not enabled, so its
/// messages are never formatted (<see cref="ListenLike"/>).
/// </summary>
public sealed class PipelineLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> queue = new();
    // Until ListenLike has read the caller's preferences, every stream counts as listened to: nothing is lost.
    private bool verbose = true;
    private bool debug = true;
    private bool warning = true;

    /// <summary>
    /// Reads, on the pipeline thread, which streams the caller of <paramref name="cmdlet"/> listens to, the way
    /// PowerShell decides whether a WriteVerbose/WriteDebug/WriteWarning shows: the command's -Verbose, -Debug (which
    /// also turns Verbose on) and -WarningAction/-WarningVariable first, else $VerbosePreference, $DebugPreference and
    /// $WarningPreference as the caller's scope sees them. SilentlyContinue and Ignore mean nobody listens.
    /// </summary>
    public void ListenLike(PSCmdlet cmdlet)
    {
        var bound = cmdlet.MyInvocation.BoundParameters;
        bool? Switch(string name) => bound.TryGetValue(name, out var value) ? LanguagePrimitives.IsTrue(value) : null;
        bool Preference(string variable, ActionPreference unset) => Listens(cmdlet.GetVariableValue(variable) ?? unset);

        var debugSwitch = Switch("Debug");
        debug = debugSwitch ?? Preference("DebugPreference", ActionPreference.SilentlyContinue);
        verbose = Switch("Verbose") ?? (debugSwitch == true || Preference("VerbosePreference", ActionPreference.SilentlyContinue));
        warning = bound.ContainsKey("WarningVariable")
                  || (bound.TryGetValue("WarningAction", out var action) ? Listens(action) : Preference("WarningPreference", ActionPreference.Continue));
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel switch
    {
        LogLevel.None => false,
        LogLevel.Trace or LogLevel.Debug => debug,
        LogLevel.Information => verbose,
        _ => warning,
    };

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        queue.Enqueue((logLevel, formatter(state, exception)));
    }

    /// <summary>Writes the queued messages to <paramref name="cmdlet"/>'s streams; only ever called on its pipeline thread.</summary>
    public void WriteTo(Cmdlet cmdlet)
    {
        while (queue.TryDequeue(out var entry))
        {
            switch (entry.Level)
            {
                case LogLevel.Trace or LogLevel.Debug: cmdlet.WriteDebug(entry.Message); break;
                case LogLevel.Information: cmdlet.WriteVerbose(entry.Message); break;
                default: cmdlet.WriteWarning(entry.Message); break;
            }
        }
    }

    private static bool Listens(object value) =>
        !LanguagePrimitives.TryConvertTo(value, out ActionPreference preference)
        || preference is not (ActionPreference.SilentlyContinue or ActionPreference.Ignore);
}
