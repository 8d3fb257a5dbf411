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
    IReadOnlyList<string> Notes)
{
    /// <summary>Run setup-database.sql over the superuser session.</summary>
    internal bool SuperuserPart { get; init; }
    /// <summary>Set whadmin's password from -WhadminCredential: whadmin has none yet.</summary>
    internal bool SetWhadminPassword { get; init; }
    /// <summary>Run functions.sql and the templates over a session authenticated as whadmin.</summary>
    internal bool WhadminPart { get; init; }
    /// <summary>What the user must still do, or null when the install is complete.</summary>
    public string? NextStep { get; init; }
}
