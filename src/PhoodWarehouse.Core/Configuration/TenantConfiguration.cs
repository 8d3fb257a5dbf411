namespace PhoodWarehouse.Core.Configuration;

public sealed record TenantConfiguration
{
    public required string Name { get; init; }
    public required string ConnectionName { get; init; }
    public required string ClientName { get; init; }
    public required string SourceServer { get; init; }
    public int SourcePort { get; init; } = 5432;
    public required string SourceDatabase { get; init; }
    public required string SourceUser { get; init; }
    /// <summary>libpq's sslmode for the source; null: libpq's default.</summary>
    public string? SourceSslMode { get; init; }
    /// <summary>libpq's channel_binding for the source; null: libpq's default.</summary>
    public string? SourceChannelBinding { get; init; }
    /// <summary>libpq's sslrootcert for the source (a path on the warehouse server); null (older files too): libpq's default.</summary>
    public string? SourceSslRootCert { get; init; }
    /// <summary>Only with Export-WhConfiguration -IncludePassword: the file then holds a secret.</summary>
    public string? SourcePassword { get; init; }
    /// <summary>The templates the tenant has views of.</summary>
    public IReadOnlyList<string> Templates { get; init; } = [];
    /// <summary>IANA time zone of the tenant's days; absent (older files too): the warehouse's.</summary>
    public string? TimeZone { get; init; }
    /// <summary>The tenant's own freshness SLA; absent (older files too): the warehouse's setting freshness_sla.</summary>
    public TimeSpan? FreshnessSla { get; init; }
}
