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

/// <summary>The result of testing one tenant's source connection from the warehouse (through dblink, as the daily views connect).</summary>
public sealed record WhTenantConnectionTest(string Name, bool Success, double? LatencyMs, string? ServerVersion, string? Error);

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

/// <summary>What Set-WhTenant changes; null leaves a value as it is.</summary>
public sealed record TenantChanges
{
    public string? SourceServer { get; init; }
    public int? SourcePort { get; init; }
    public string? SourceDatabase { get; init; }
    public string? SourceUser { get; init; }
    public string? SourcePassword { get; init; }
    public string? SourceSslMode { get; init; }
    public string? SourceChannelBinding { get; init; }
    public string? SourceSslRootCert { get; init; }
    public string? ClientName { get; init; }
    /// <summary>IANA time zone; "" removes it (the tenant's days follow the warehouse's clock again).</summary>
    public string? TimeZone { get; init; }
    /// <summary>Whether to set the freshness SLA (to <see cref="FreshnessSla"/>; null: back to the warehouse's).</summary>
    public bool SetsFreshnessSla { get; init; }
    public TimeSpan? FreshnessSla { get; init; }
    /// <summary>Test the changed source through dblink before committing (as New-WhTenant does); Set-WhTenant -SkipConnectionTest turns it off.</summary>
    public bool TestConnection { get; init; } = true;

    /// <summary>Whether anything of the connection differs from <paramref name="current"/> (values piped back in are no change).</summary>
    public bool ChangesConnectionOf(WhTenant current) =>
        SourcePassword is not null || (SourceUser is not null && SourceUser != current.SourceUser) || MovesSource(current);

    /// <summary>
    /// Whether the source moves away from <paramref name="current"/> (server, port, database, SSL mode, channel binding or CA file): then a new
    /// password is required, so that the stored one goes only where it was given (docs/security.md, finding 2).
    /// </summary>
    public bool MovesSource(WhTenant current) =>
        (SourceServer is not null && SourceServer != current.SourceServer)
        || (SourcePort is not null && SourcePort != current.SourcePort)
        || (SourceDatabase is not null && SourceDatabase != current.SourceDatabase)
        || (SourceSslMode is not null && SourceSslMode != current.SourceSslMode)
        || (SourceChannelBinding is not null && SourceChannelBinding != current.SourceChannelBinding)
        || (SourceSslRootCert is not null && SourceSslRootCert != current.SourceSslRootCert);

    /// <summary>What will change, for -WhatIf and -Verbose: names the fields, never the password.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (SourceServer is not null) parts.Add($"source server → {SourceServer}");
        if (SourcePort is not null) parts.Add($"source port → {SourcePort}");
        if (SourceDatabase is not null) parts.Add($"source database → {SourceDatabase}");
        if (SourceUser is not null) parts.Add($"source user → {SourceUser}");
        if (SourceSslMode is not null) parts.Add($"source sslmode → {SourceSslMode}");
        if (SourceChannelBinding is not null) parts.Add($"source channel_binding → {SourceChannelBinding}");
        if (SourceSslRootCert is not null) parts.Add($"source sslrootcert → {SourceSslRootCert}");
        if (SourcePassword is not null) parts.Add("source password (user mapping)");
        if (ClientName is not null) parts.Add($"client name → {ClientName} (tenant and public views rebuilt)");
        if (TimeZone is not null) parts.Add(TimeZone.Length == 0 ? "time zone → none (the warehouse's)" : $"time zone → {TimeZone}");
        if (SetsFreshnessSla) parts.Add(FreshnessSla is { } sla ? $"freshness SLA → {sla:c}" : "freshness SLA → the warehouse's (freshness_sla)");
        return string.Join(", ", parts);
    }
}
