using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.PowerShell.Commands.Sandbox;

/// <summary>
/// Stops a sandbox and deletes its folder, closing the connection Start-WhSandbox made. Without -Sandbox it
/// stops every sandbox this session started.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "WhSandbox", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class StopWhSandboxCommand : PSCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true)]
    public WhSandbox[] Sandbox { get; set; } = [];

    private bool anyPiped;

    protected override void ProcessRecord()
    {
        if (Sandbox.Length == 0) return;
        anyPiped = true;
        foreach (var sandbox in Sandbox) Stop(sandbox);
    }

    protected override void EndProcessing()
    {
        if (anyPiped || MyInvocation.BoundParameters.ContainsKey(nameof(Sandbox))) return;
        var running = SandboxSessions.Running();
        if (running.Count == 0) WriteVerbose("No sandbox of this session is running.");
        foreach (var sandbox in running) Stop(sandbox);
    }

    private void Stop(WhSandbox sandbox)
    {
        if (!sandbox.IsRunning)
        {
            WriteVerbose($"The sandbox at {sandbox.Endpoint} is already stopped.");
            return;
        }
        if (!ShouldProcess(sandbox.Endpoint, $"Stop the sandbox and delete its folder {sandbox.DataFolder}")) return;
        SandboxSessions.Remove(sandbox);
        sandbox.Stop();
        WriteVerbose($"Stopped the sandbox at {sandbox.Endpoint} and deleted {sandbox.DataFolder}.");
    }
}
