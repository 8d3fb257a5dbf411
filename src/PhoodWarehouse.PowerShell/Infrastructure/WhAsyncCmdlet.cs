using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// The base of every cmdlet that runs Core work: a cancellation token that Ctrl+C (StopProcessing) cancels, Core's
/// log messages written to Verbose/Debug/Warning on the pipeline thread (only the streams the caller listens to),
/// and error records with stable ids and categories built from <see cref="WarehouseException"/>. It knows nothing
/// of a warehouse connection: <see cref="WhCmdlet"/> adds -Connection for the cmdlets that take one.
/// </summary>
public abstract class WhAsyncCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource stopping = new();
    private readonly PipelineLogger logger = new();

    protected CancellationToken Cancel => stopping.Token;
    protected ILogger Logger => logger;

    /// <summary>Reads which streams the caller listens to (-Verbose, -Debug, the preference variables) before any work.</summary>
    protected override void BeginProcessing()
    {
        MessagesDoNotPromptUnderDebug();
        logger.ListenLike(this);
    }

    /// <summary>
    /// PowerShell 7 still turns a compiled cmdlet's verbose messages and warnings into Inquire under -Debug (its
    /// DebugPreference becomes Continue, its VerbosePreference and WarningPreference Inquire): every message then asks
    /// "Continue with this operation?", and under <c>pwsh -File</c> that prompt dies with a NullReferenceException. A DBA
    /// who asks for -Debug asks for the text, not for prompts: unless -Verbose or -WarningAction says otherwise, both are
    /// written and the command goes on. The runtime's setters are internal (the -Verbose and -WarningAction bindings use
    /// them); where a PowerShell has none, nothing changes (the Pester test in a new pwsh -File says so).
    /// </summary>
    private void MessagesDoNotPromptUnderDebug()
    {
        var bound = MyInvocation.BoundParameters;
        if (!bound.TryGetValue("Debug", out var debug) || !LanguagePrimitives.IsTrue(debug)) return;
        // What -Verbose and -WarningAction Continue would set: the Verbose flag, and the warning preference.
        if (!bound.ContainsKey("Verbose")) SetRuntime("Verbose", true);
        if (!bound.ContainsKey("WarningAction")) SetRuntime("WarningPreference", ActionPreference.Continue);
    }

    private void SetRuntime(string property, object value)
    {
        var setter = CommandRuntime.GetType().GetProperty(property, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);
        if (setter is { CanWrite: true }) setter.SetValue(CommandRuntime, value);
    }

    protected override void StopProcessing() => stopping.Cancel();

    protected override void EndProcessing() => FlushLog();

    /// <summary>Runs Core work, writing its log messages as they arrive, and turns its failures into error records.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work)
    {
        var task = Task.Run(() => work(Cancel));
        while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(50))) FlushLog();
        FlushLog();
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (Cancel.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception error) when (error is not WarehouseException and not PipelineStoppedException)
        {
            throw DatabaseErrors.Translate(error);
        }
    }

    protected void Run(Func<CancellationToken, Task> work) => Run(async cancel => { await work(cancel); return true; });

    /// <summary>
    /// Consumes a stream of Core results on the pipeline thread, writing log messages between items.
    /// If the consumer stops early (-ErrorAction Stop, Ctrl+C), the producer is cancelled and awaited, so that
    /// its clean-up (rebuilding views, rolling back in-flight days) finishes before the cmdlet returns.
    /// </summary>
    protected IEnumerable<T> Stream<T>(Func<CancellationToken, IAsyncEnumerable<T>> work)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        using var items = new BlockingCollection<T>();
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var item in work(stop.Token).WithCancellation(stop.Token)) items.Add(item);
            }
            finally
            {
                items.CompleteAdding();
            }
        });
        try
        {
            while (!items.IsCompleted)
            {
                if (items.TryTake(out var item, 50)) yield return item;
                FlushLog();
            }
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
            try { FlushLog(); } catch (PipelineStoppedException) { }
        }
        if (producer.IsFaulted && producer.Exception!.InnerException is { } error && error is not OperationCanceledException)
            throw DatabaseErrors.Translate(error);
        if (Cancel.IsCancellationRequested) throw new PipelineStoppedException();
    }

    /// <summary>Writes queued log messages; only ever called on the pipeline thread.</summary>
    protected void FlushLog() => logger.WriteTo(this);

    /// <summary>True when this run only describes what it would do (-WhatIf, or $WhatIfPreference), as ShouldProcess decides.</summary>
    protected bool IsWhatIf =>
        MyInvocation.BoundParameters.TryGetValue("WhatIf", out var bound)
            ? bound is SwitchParameter { IsPresent: true } or true
            : SessionState.PSVariable.GetValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;

    protected static ErrorRecord ToErrorRecord(WarehouseException error) =>
        new(error, error.ErrorId, Category(error.Kind), error.Target)
        {
            ErrorDetails = new ErrorDetails(error.Message),
        };

    protected void WriteWhError(WarehouseException error) => WriteError(ToErrorRecord(error));

    protected void ThrowWhError(WarehouseException error) => ThrowTerminatingError(ToErrorRecord(error));

    private static ErrorCategory Category(WhErrorKind kind) => kind switch
    {
        WhErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        WhErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        WhErrorKind.ResourceExists => ErrorCategory.ResourceExists,
        WhErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        WhErrorKind.AuthenticationError => ErrorCategory.AuthenticationError,
        WhErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        WhErrorKind.NotInstalled => ErrorCategory.NotInstalled,
        WhErrorKind.Cancelled => ErrorCategory.OperationStopped,
        _ => ErrorCategory.InvalidOperation,
    };
}
