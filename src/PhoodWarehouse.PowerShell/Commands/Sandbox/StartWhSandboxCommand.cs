using System.Management.Automation;
using Microsoft.Extensions.Logging;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.Connections;
using PhoodWarehouse.Core.Sandbox;
using PhoodWarehouse.PowerShell.Infrastructure;

namespace PhoodWarehouse.PowerShell.Commands.Sandbox;

/// <summary>
/// Starts a throwaway local warehouse: PostgreSQL in a folder of its own (pg_cron preloaded when installed),
/// the warehouse installed, sample tenant sources with generated data, and this session connected as whadmin.
/// Not a WhCmdlet: it makes the connection rather than taking one.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "WhSandbox", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(WhSandbox))]
public sealed class StartWhSandboxCommand : PSCmdlet
{
    private readonly CancellationTokenSource stopping = new();
    private readonly PipelineLogger logger = new();

    [Parameter(Position = 0)]
    [ValidateRange(0, 26)]
    public int TenantCount { get; set; } = 3;

    [Parameter]
    [ValidateRange(1, 3660)]
    public int Days { get; set; } = 30;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    protected override void StopProcessing() => stopping.Cancel();

    protected override void EndProcessing()
    {
        var options = new SandboxOptions
        {
            TenantCount = TenantCount,
            Days = Days,
            Path = Path is null ? null : GetUnresolvedProviderPathFromPSPath(Path),
        };
        if (!ShouldProcess("local PostgreSQL sandbox", "Start: " + string.Join("; ", SandboxFactory.Plan(options)))) return;

        try
        {
            var sandbox = Wait(cancel => SandboxFactory.StartAsync(options, logger, cancel));
            WhConnection connection;
            try
            {
                connection = Wait(cancel => WarehouseConnector.ConnectAsync(
                    new ConnectionRequest { ConnectionString = sandbox.GetConnectionString() }, logger, cancel));
            }
            catch
            {
                sandbox.Stop();
                throw;
            }
            DefaultConnection.Set(connection);
            SandboxSessions.Add(sandbox, connection);
            WriteVerbose($"Sandbox running at {sandbox.Endpoint}; this session is connected to it as whadmin. Stop-WhSandbox stops it and deletes {sandbox.DataFolder}.");
            WriteObject(sandbox);
        }
        catch (WarehouseException error)
        {
            ThrowTerminatingError(new ErrorRecord(error, error.ErrorId,
                error.Kind == WhErrorKind.InvalidArgument ? ErrorCategory.InvalidArgument
                : error.Kind == WhErrorKind.ResourceExists ? ErrorCategory.ResourceExists
                : error.Kind == WhErrorKind.NotInstalled ? ErrorCategory.NotInstalled
                : ErrorCategory.InvalidOperation, error.Target));
        }
    }

    /// <summary>Waits for Core's work, writing its log messages to Verbose/Debug/Warning on this thread.</summary>
    private T Wait<T>(Func<CancellationToken, Task<T>> work)
    {
        var task = Task.Run(() => work(stopping.Token));
        while (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(50))) Flush();
        Flush();
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception error) when (error is not WarehouseException)
        {
            throw DatabaseErrors.Translate(error);
        }
    }

    private void Flush()
    {
        while (logger.TryDequeue(out var entry))
        {
            if (entry.Level <= LogLevel.Debug) WriteDebug(entry.Message);
            else if (entry.Level == LogLevel.Information) WriteVerbose(entry.Message);
            else WriteWarning(entry.Message);
        }
    }
}
