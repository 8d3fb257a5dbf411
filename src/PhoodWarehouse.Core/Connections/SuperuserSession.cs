namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// The one rule for superuser sessions (docs/security.md, finding 1): they install and read pg_catalog, and do no
/// warehouse work. SET ROLE whadmin would be no boundary: whadmin's triggers and functions can RESET ROLE.
/// </summary>
public static class SuperuserSession
{
    public static WarehouseException Refusal(WhConnection connection) =>
        new("SuperuserSession", WhErrorKind.PermissionDenied,
            $"You are connected to {connection.Target} as '{connection.User}', a superuser. Warehouse work runs only as whadmin: " +
            "a superuser session would run triggers and functions that whadmin can change, with superuser rights (docs/security.md). " +
            "Connect as whadmin (Connect-WhWarehouse -Credential whadmin) and run the command again. " +
            "A superuser session is for Install-WhWarehouse and Get-WhWarehouse only.",
            connection.Target);

    /// <summary>Throws <see cref="Refusal"/> when <paramref name="connection"/> is a superuser session.</summary>
    public static void Refuse(WhConnection connection)
    {
        if (connection.IsSuperuser) throw Refusal(connection);
    }

    /// <summary>The warning Connect-WhWarehouse gives for a superuser login.</summary>
    public static string Warning(WhConnection connection) =>
        $"'{connection.User}' is a superuser: this session can run Install-WhWarehouse (the superuser part: roles, extensions, grants, pg_cron) " +
        "and Get-WhWarehouse, and every other command refuses it. Connect as whadmin for warehouse work (docs/security.md).";
}
