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
