using System.Management.Automation;
using Microsoft.Extensions.Logging;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.Connections;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// What every Wh cmdlet shares: -Connection (or the session default), a cancellation token that Ctrl+C
/// (StopProcessing) cancels, Core's log messages written to Verbose/Debug/Warning on the pipeline thread,
/// and error records with stable ids built from <see cref="WarehouseException"/>.
/// </summary>
public abstract partial class WhCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource stopping = new();
    private readonly PipelineLogger logger = new();

    /// <summary>The warehouse to work on; defaults to the one Connect-WhWarehouse set for this session.</summary>
    [Parameter]
    public WhConnection? Connection { get; set; }

    /// <summary>
    /// Whether this cmdlet may run in a superuser session: only Install-WhWarehouse (the superuser part) and
    /// Get-WhWarehouse (pg_catalog only) do. Every other cmdlet refuses it (docs/security.md).
    /// </summary>
    protected virtual bool SuperuserAllowed => false;

    protected CancellationToken Cancel => stopping.Token;
    protected ILogger Logger => logger;

    /// <summary>
    /// False for the commands that must work whatever schema version the warehouse has (Install-WhWarehouse,
    /// Get-WhWarehouse); every other command refuses a warehouse whose schema is not the one this module needs.
    /// </summary>
    protected virtual bool RequiresCurrentSchema => true;

    /// <summary>
    /// -Connection, or the session default; a terminating error when there is neither, when it is a superuser
    /// session and this cmdlet does warehouse work (SuperuserSession), or when its schema is outdated (SchemaOutdated).
    /// </summary>
    protected WhConnection Warehouse
    {
        get
        {
            var connection = Connection ?? DefaultConnection.Current;
            if (connection is null || connection.IsDisposed)
                ThrowTerminatingError(new ErrorRecord(
                    new InvalidOperationException("Not connected to a warehouse. Run Connect-WhWarehouse first, or pass -Connection."),
                    "NotConnected", ErrorCategory.ConnectionError, null));
            if (connection!.IsSuperuser && !SuperuserAllowed) ThrowWhError(SuperuserSession.Refusal(connection));
            if (RequiresCurrentSchema)
            {
                try { Core.Install.SchemaVersion.EnsureCurrent(connection); }
                catch (WarehouseException error) { ThrowWhError(error); }
            }
            return connection;
        }
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
        using var items = new System.Collections.Concurrent.BlockingCollection<T>();
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
    protected void FlushLog()
    {
        while (logger.TryDequeue(out var entry))
        {
            switch (entry.Level)
            {
                case LogLevel.Trace or LogLevel.Debug: WriteDebug(entry.Message); break;
                case LogLevel.Information: WriteVerbose(entry.Message); break;
                default: WriteWarning(entry.Message); break;
            }
        }
    }

    protected static ErrorRecord ToErrorRecord(WarehouseException error) =>
        new(error, error.ErrorId, Category(error.Kind), error.Target)
        {
            ErrorDetails = new ErrorDetails(error.Message),
        };

    protected void WriteWhError(WarehouseException error) => WriteError(ToErrorRecord(error));

    /// <summary>A non-terminating TenantNotFound for each name without wildcards that matched none of <paramref name="found"/>.</summary>
    protected void WriteUnmatchedTenants(IEnumerable<NamePattern> patterns, IReadOnlyCollection<string> found)
    {
        foreach (var pattern in patterns.Where(p => !p.HasWildcards && !found.Any(p.IsMatch)))
            WriteWhError(Core.Tenants.TenantStore.NotFound(pattern.Text));
    }

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
