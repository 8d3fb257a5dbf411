namespace PhoodWarehouse.Core.Install;

/// <summary>The second login of an install run by a superuser.</summary>
public static class InstallLogins
{
    /// <summary>whadmin at the same server, port, database, SSL and timeout settings as <paramref name="superuser"/>.</summary>
    public static Connections.ConnectionRequest Whadmin(Connections.WhConnection superuser, string password) =>
        superuser.SameServerAs("whadmin", password);
}
