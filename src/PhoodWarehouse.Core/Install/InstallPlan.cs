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

/// <summary>The second login of an install run by a superuser.</summary>
public static class InstallLogins
{
    /// <summary>whadmin at the same server, port, database, SSL and timeout settings as <paramref name="superuser"/>.</summary>
    public static Connections.ConnectionRequest Whadmin(Connections.WhConnection superuser, string password) =>
        superuser.SameServerAs("whadmin", password);
}
