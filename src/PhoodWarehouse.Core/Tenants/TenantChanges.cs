namespace PhoodWarehouse.Core.Tenants;

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
