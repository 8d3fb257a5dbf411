namespace PhoodWarehouse.Core.Sandbox;

/// <summary>
/// One generated tenant source in a sandbox. The property names match New-WhTenant's parameters, so that
/// <c>$sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential</c> binds by property name.
/// </summary>
public sealed record WhSandboxTenant(
    string Name, string SourceServer, int SourcePort, string SourceDatabase, string SourceUser,
    DateOnly FirstDay, int Days, int RowsPerDay);
