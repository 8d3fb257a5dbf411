namespace PhoodWarehouse.Core.Local;

/// <summary>A tenant source database to generate: days × rows of food-waste logs, and a read-only login.</summary>
public sealed record SampleTenantSourceSpec
{
    public required string Database { get; init; }
    public required string ReaderUser { get; init; }
    public required string ReaderPassword { get; init; }
    public required DateOnly FirstDay { get; init; }
    public int Days { get; init; } = 30;
    public int RowsPerDay { get; init; } = 200;
    /// <summary>Same seed, same rows: the generator is deterministic.</summary>
    public int Seed { get; init; } = 1;
}
