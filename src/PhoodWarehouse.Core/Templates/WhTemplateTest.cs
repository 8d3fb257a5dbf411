namespace PhoodWarehouse.Core.Templates;

/// <summary>What Test-WhTemplate found; <see cref="Success"/> is false when anything is listed in <see cref="Problems"/>.</summary>
public sealed record WhTemplateTest
{
    public required string Template { get; init; }
    public required string Tenant { get; init; }
    public required DateTime Date { get; init; }
    /// <summary>Only {TARGET_DATE}, {SCHEMA} and {VIEW_NAME} appear in the query and indexes.</summary>
    public bool PlaceholdersKnown { get; init; }
    /// <summary>The column list parses: "name type" pieces whose types exist in the warehouse.</summary>
    public bool ColumnsParse { get; init; }
    /// <summary>The rendered query ran at the tenant's source (through dblink, no rows fetched).</summary>
    public bool QueryRuns { get; init; }
    /// <summary>The query's result columns equal the declared ones in number and (base) type, in order.</summary>
    public bool ColumnsMatch { get; init; }
    /// <summary>Declared columns, "name type".</summary>
    public IReadOnlyList<string> DeclaredColumns { get; init; } = [];
    /// <summary>The source's result column types, in order (from a temporary view on the remote).</summary>
    public IReadOnlyList<string> SourceColumnTypes { get; init; } = [];
    public IReadOnlyList<string> Problems { get; init; } = ReadableList<string>.Empty;
    public bool Success => Problems.Count == 0;
}
