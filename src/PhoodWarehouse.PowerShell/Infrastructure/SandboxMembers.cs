using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>Code properties that give Core's sandbox the PowerShell shapes users pass on (types.ps1xml).</summary>
public static class SandboxMembers
{
    /// <summary>The shared read-only login of the sample tenant sources, ready for New-WhTenant -SourceCredential.</summary>
    public static PSCredential SourceCredential(PSObject instance) =>
        instance.BaseObject is WhSandbox sandbox
            ? new PSCredential(sandbox.SourceUser, sandbox.SourcePassword)
            : PSCredential.Empty;
}
