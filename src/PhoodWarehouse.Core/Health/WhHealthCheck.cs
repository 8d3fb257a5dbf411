namespace PhoodWarehouse.Core.Health;

/// <summary>Ok: nothing to do. Warning: act soon. Critical: act now (BI queries or loads fail, or will).</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum WhHealthStatus { Ok, Warning, Critical }

/// <summary>
/// The result of one health check (or of one check for one tenant: <see cref="Target"/>). Value and Threshold are
/// what was measured and what it was compared with, as text a person reads; Message says what to do.
/// </summary>
public sealed record WhHealthCheck
{
    public required string Check { get; init; }
    public required WhHealthStatus Status { get; init; }
    /// <summary>The tenant (or tenant/template) a per-tenant result is about; null for warehouse-wide checks.</summary>
    public string? Target { get; init; }
    public required string Value { get; init; }
    public required string Threshold { get; init; }
    public required string Message { get; init; }

    public override string ToString() => $"{Check}{(Target is null ? "" : " " + Target)}: {Status} ({Value})";
}
