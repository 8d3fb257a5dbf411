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
}
