namespace PhoodWarehouse.Core.Tenants;

/// <summary>The result of testing one tenant's source connection from the warehouse (through dblink, as the daily views connect).</summary>
public sealed record WhTenantConnectionTest(string Name, bool Success, double? LatencyMs, string? ServerVersion, string? Error);
