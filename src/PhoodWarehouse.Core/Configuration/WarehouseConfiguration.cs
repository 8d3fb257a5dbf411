using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PhoodWarehouse.Core.Configuration;

/// <summary>
/// The warehouse as code: what Export-WhConfiguration writes and Import-WhConfiguration rebuilds from. Never view
/// data (the guide's disaster-recovery rule: recreate it from the sources). Lists are sorted by name and there is
/// no timestamp, so that exporting an unchanged warehouse twice gives the same file (clean diffs in version control).
/// </summary>
public sealed record WarehouseConfiguration
{
    public const string FormatName = "phood-warehouse-configuration";
    public const int CurrentFormatVersion = 1;

    public string Format { get; init; } = FormatName;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    /// <summary>The <c>_wh</c> schema version of the warehouse it was exported from.</summary>
    public string? SchemaVersion { get; init; }
    public IReadOnlyList<TemplateConfiguration> Templates { get; init; } = [];
    public IReadOnlyList<TenantConfiguration> Tenants { get; init; } = [];
    public IReadOnlyList<CronJobConfiguration> CronJobs { get; init; } = [];
    /// <summary>The warehouse's settings (<c>_wh.settings()</c>: timeouts, retention, compaction), by key; null in files of older exports.</summary>
    public SortedDictionary<string, string>? Settings { get; init; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Readable SQL in the file: quotes and non-ASCII stay as they are (the file is not embedded in HTML).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options) + "\n";

    public static WarehouseConfiguration FromJson(string json, string source)
    {
        WarehouseConfiguration? configuration;
        try
        {
            configuration = JsonSerializer.Deserialize<WarehouseConfiguration>(json, Options);
        }
        catch (JsonException error)
        {
            throw new WarehouseException("InvalidConfigurationFile", WhErrorKind.InvalidArgument,
                $"{source} is not a warehouse configuration file ({error.Message}). Create one with Export-WhConfiguration.", source, error);
        }
        if (configuration is null || configuration.Format != FormatName)
            throw new WarehouseException("InvalidConfigurationFile", WhErrorKind.InvalidArgument,
                $"{source} is not a warehouse configuration file (no \"format\": \"{FormatName}\"). Create one with Export-WhConfiguration.", source);
        if (configuration.FormatVersion > CurrentFormatVersion)
            throw new WarehouseException("UnsupportedConfigurationVersion", WhErrorKind.InvalidArgument,
                $"{source} has format version {configuration.FormatVersion}; this module reads up to {CurrentFormatVersion}. Update the PhoodWarehouse module.", source);
        return configuration;
    }
}

public sealed record TemplateConfiguration
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required string Query { get; init; }
    public required string Columns { get; init; }
    public string? Indexes { get; init; }
    /// <summary>A default template (New-WhTenant's set); null in files written before 0.4.0, where every template was.</summary>
    public bool? Default { get; init; }
}

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

public sealed record CronJobConfiguration
{
    public required string Name { get; init; }
    public required string Schedule { get; init; }
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    /// <summary>False when the job leaves yesterday's view alone after midnight (allow_refresh_yesterday => false).</summary>
    public bool RefreshYesterday { get; init; } = true;
    /// <summary>Days the job checks against the source once a day; absent (older files, guide-style jobs): 7.</summary>
    public int? LookbackDays { get; init; }
    public bool Active { get; init; } = true;
}

/// <summary>What Import-WhConfiguration did (or found already done) for one item.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum ImportAction { Created, Unchanged, Updated, Skipped }

/// <summary>One line of an import's report: Kind is Warehouse, Template, Tenant, CronJob or Backfill.</summary>
public sealed record WhImportResult(string Kind, string Name, ImportAction Action, string Message)
{
    public override string ToString() => $"{Kind} {Name}: {Action}";
}

/// <summary>The warehouse's settings as it has them now (<c>_wh.settings()</c>, each with its value or its default), by key.</summary>
internal static class WarehouseSettings
{
    public static async Task<SortedDictionary<string, string>> ReadAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var settings = await Db.ReadAllAsync(db,
            "SELECT s.key, coalesce(i.value, s.default_value) FROM _wh.settings() s LEFT JOIN _wh.warehouse_info i ON i.key = s.key",
            r => KeyValuePair.Create(r.GetString(0), r.GetString(1)), cancel);
        return new SortedDictionary<string, string>(new Dictionary<string, string>(settings), StringComparer.Ordinal);
    }
}
