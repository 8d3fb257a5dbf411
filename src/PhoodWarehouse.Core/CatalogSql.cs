namespace PhoodWarehouse.Core;

/// <summary>SQL fragments that several readers share.</summary>
internal static class CatalogSql
{
    /// <summary>True when the warehouse is installed and the current user may read it (never errors for phood_ro).</summary>
    public const string WarehouseReadable =
        """
        EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = '_wh' AND c.relname = 'warehouse_info'
                  AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'))
        """;

    /// <summary>
    /// True for a superuser, and on RDS for a member of rds_superuser (the master user): sessions that must not run
    /// whadmin's code (docs/security.md).
    /// </summary>
    public const string IsSuperuser =
        """
        (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
          OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles s WHERE s.rolname = 'rds_superuser' AND pg_catalog.pg_has_role(current_user, s.oid, 'MEMBER'))
        """;
}
