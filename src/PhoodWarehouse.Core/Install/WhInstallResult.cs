namespace PhoodWarehouse.Core.Install;

/// <summary>What an install did. <see cref="NextStep"/> says what is left when only the superuser part ran.</summary>
public sealed record WhInstallResult(
    string Database,
    string Action,
    string? PreviousVersion,
    string SchemaVersion,
    bool PgCron,
    IReadOnlyList<string> Steps,
    IReadOnlyList<string> Notes)
{
    public string? NextStep { get; init; }
}
