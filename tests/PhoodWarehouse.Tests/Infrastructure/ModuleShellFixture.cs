namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// One hosted engine with the module imported, shared by a class's tests that need no warehouse (IClassFixture). No host:
/// these tests read no host lines, and under the recording host CmdletBaseTests' -Debug probe meets a Continue? prompt.
/// </summary>
public sealed class ModuleShellFixture : IDisposable
{
    public HostedPowerShell PowerShell { get; } = new(recordHost: false);
    public void Dispose() => PowerShell.Dispose();
}
