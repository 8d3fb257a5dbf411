namespace PhoodWarehouse.Core.DailyViews;

/// <summary>What happened to one day of one tenant's template.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum MvAction { Created, Refreshed, Skipped, Recreated, Failed }

/// <summary>One day's outcome, as Invoke-WhMvBackfill and Update-WhMv report it.</summary>
public sealed record WhMvResult
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required DateTime Date { get; init; }
    public required MvAction Action { get; init; }
    public long? Rows { get; init; }
    public TimeSpan Duration { get; init; }
    public string? Error { get; init; }
    /// <summary>Why a day was skipped: closed and loaded already (-Force loads it again), or its tenant removed during the run.</summary>
    public string? Note { get; init; }
    /// <summary>The daily view, schema-qualified: <c>tenant_a.foodlogstats_2024_01_15</c>.</summary>
    public required string View { get; init; }

    public override string ToString() => $"{View}: {Action}";

    /// <summary>The note of a closed day that exists: not loaded again without -Force.</summary>
    public const string ClosedDayNote = "Closed and loaded already: a closed day is not loaded again without -Force (Test-WhMv finds one that differs from its source).";
}

