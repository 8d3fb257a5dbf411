namespace PhoodWarehouse.Core.Install;

/// <summary>What an install would do, worked out before anything changes (this is what -WhatIf shows).</summary>
public sealed record InstallPlan(
    string Target,
    bool AsSuperuser,
    string? InstalledVersion,
    string TargetVersion,
    bool UpToDate,
    bool PgCronAvailable,
    IReadOnlyList<string> Steps,
    IReadOnlyList<string> Notes);

/// <summary>What an install did.</summary>
public sealed record WhInstallResult(
    string Database,
    string Action,
    string? PreviousVersion,
    string SchemaVersion,
    bool PgCron,
    IReadOnlyList<string> Steps,
    IReadOnlyList<string> Notes);
