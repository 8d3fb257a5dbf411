namespace PhoodWarehouse.Core;

/// <summary>SQL fragments that several readers share.</summary>
internal static class CatalogSql
{
    /// <summary>True when the warehouse is installed and the current user may read it (never errors for phood_ro).</summary>
    public const string WarehouseReadable =
        """
        EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                WHERE n.nspname OPERATOR(pg_catalog.=) '_wh' AND c.relname OPERATOR(pg_catalog.=) 'warehouse_info'
                  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_table_privilege(c.oid, 'SELECT'))
        """;

    /// <summary>
    /// True for an admin session: a superuser, or a managed server's admin (a role with CREATEROLE, such as Amazon RDS's
    /// master user; or a member of rds_superuser). Such sessions install and read pg_catalog, and never run whadmin's code
    /// (docs/security.md). Run with search_path pinned (<see cref="CatalogSession"/>): no name resolves where whadmin writes.
    /// </summary>
    public const string IsSuperuser =
        """
        (SELECT r.rolsuper OR r.rolcreaterole FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user)
          OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles s WHERE s.rolname OPERATOR(pg_catalog.=) 'rds_superuser'
                     AND pg_catalog.pg_has_role(current_user, s.oid, 'MEMBER'))
        """;
}
