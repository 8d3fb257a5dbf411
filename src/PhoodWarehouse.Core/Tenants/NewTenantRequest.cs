namespace PhoodWarehouse.Core.Tenants;

/// <summary>Everything New-WhTenant needs. The password travels here and nowhere else.</summary>
public sealed record NewTenantRequest
{
    public required string Name { get; init; }
    public required string ConnectionName { get; init; }
    public required string ClientName { get; init; }
    public required string SourceServer { get; init; }
    public int SourcePort { get; init; } = 5432;
    public required string SourceDatabase { get; init; }
    public required string SourceUser { get; init; }
    public required string SourcePassword { get; init; }
    /// <summary>libpq's sslmode for the source; null: libpq's default.</summary>
    public string? SourceSslMode { get; init; }
    /// <summary>libpq's channel_binding for the source; null: libpq's default.</summary>
    public string? SourceChannelBinding { get; init; }
    /// <summary>libpq's sslrootcert for the source (an absolute path on the warehouse server); null: libpq's default.</summary>
    public string? SourceSslRootCert { get; init; }
    public IReadOnlyList<string> Templates { get; init; } = [];
    public bool TestConnection { get; init; } = true;
    /// <summary>IANA time zone of the tenant's days; null: the warehouse's.</summary>
    public string? TimeZone { get; init; }
    /// <summary>The tenant's own freshness SLA; null: the warehouse's.</summary>
    public TimeSpan? FreshnessSla { get; init; }
}
