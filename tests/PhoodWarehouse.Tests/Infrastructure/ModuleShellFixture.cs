namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>One hosted engine with the module imported, shared by a class's tests that need no warehouse (IClassFixture).</summary>
public sealed class ModuleShellFixture : IDisposable
{
    public HostedPowerShell PowerShell { get; } = new();
    public void Dispose() => PowerShell.Dispose();
}
