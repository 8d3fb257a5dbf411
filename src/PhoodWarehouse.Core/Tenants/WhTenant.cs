namespace PhoodWarehouse.Core.Tenants;

/// <summary>A tenant: its schema in the warehouse, where its data comes from, and what the warehouse holds of it. No secret.</summary>
public sealed record WhTenant
{
    /// <summary>The tenant's schema in the warehouse.</summary>
    public required string Name { get; init; }
    public required string ConnectionName { get; init; }
    /// <summary>The value of the <c>client</c> column in the tenant's views.</summary>
    public required string ClientName { get; init; }
    public string? SourceServer { get; init; }
    public int? SourcePort { get; init; }
    public string? SourceDatabase { get; init; }
    public string? SourceUser { get; init; }
    /// <summary>libpq's sslmode for the source (verify-full checks certificate and host name); null: libpq's default (prefer).</summary>
    public string? SourceSslMode { get; init; }
    /// <summary>libpq's channel_binding for the source (require: the server must prove it holds the SCRAM secret); null: libpq's default.</summary>
    public string? SourceChannelBinding { get; init; }
    /// <summary>libpq's sslrootcert for the source: the CA file, a path on the warehouse server; null: libpq's default (~/.postgresql/root.crt of the server's OS user).</summary>
    public string? SourceSslRootCert { get; init; }
    public IReadOnlyList<string> Templates { get; init; } = [];
    public int DailyViewCount { get; init; }
    public DateTime? FirstDate { get; init; }
    public DateTime? LatestDate { get; init; }
    /// <summary>The IANA time zone of the tenant's days (its logged_time is wall-clock time there); null: the warehouse's.</summary>
    public string? TimeZone { get; init; }
    /// <summary>Today on the tenant's clock (the warehouse's <c>_wh.tenant_today</c>).</summary>
    public DateTime Today { get; init; }
    /// <summary>
    /// How long after its day ends (on its clock) a day must be finished, else it is Late; null: the warehouse's
    /// setting freshness_sla (<see cref="EffectiveFreshnessSla"/> is the one that applies).
    /// </summary>
    public TimeSpan? FreshnessSla { get; init; }
    /// <summary>The freshness SLA that applies: the tenant's own, else the warehouse's.</summary>
    public TimeSpan? EffectiveFreshnessSla { get; init; }

    public override string ToString() => Name;
}
