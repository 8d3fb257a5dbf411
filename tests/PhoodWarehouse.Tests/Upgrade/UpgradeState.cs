namespace PhoodWarehouse.Tests.Upgrade;

/// <summary>
/// What an upgrade must keep, as comparable lines (read as the superuser): every day's rows in both kinds of day, the
/// compacted tables and the tenant and public views (count and content hash), tenants and clients, templates,
/// connections (and that each still has its password), phood_ro's grants, cron jobs and the run log.
/// </summary>
internal static class UpgradeState
{
    private const string FixedLines =
        """
        SELECT 'tenant ' || schema_name || ' ' || connection_name || ' ' || client_name FROM _wh.tenants
        UNION ALL SELECT 'template ' || template_name || ' ' || coalesce(description, '') || ' ' || md5(query_template)
                         || ' ' || md5(column_definitions) || ' ' || md5(coalesce(indexes, '')) FROM _wh.mv_templates
        UNION ALL SELECT 'connection ' || tenant_name || ' ' || host || ' ' || port || ' ' || dbname || ' ' || username FROM _wh.tenant_connections
        UNION ALL SELECT 'server ' || s.srvname || ' ' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(s.srvoptions) o WHERE o ~ '^(host|port|dbname)=')
                         || ' password kept: ' || coalesce(um.umoptions::text LIKE '%password=%', false)::text
          FROM pg_foreign_server s LEFT JOIN pg_user_mappings um ON um.srvid = s.oid AND um.usename = 'whadmin'
        UNION ALL SELECT 'grant ' || n.nspname || '.' || c.relname || ' ' || has_table_privilege('phood_ro', c.oid, 'SELECT')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('up_a', 'up_b', 'public') AND c.relkind IN ('r', 'v', 'm') AND c.relname !~ '_recent$'
        UNION ALL SELECT 'usage ' || nspname || ' ' || has_schema_privilege('phood_ro', oid, 'USAGE') FROM pg_namespace WHERE nspname IN ('up_a', 'up_b', 'public')
        UNION ALL SELECT 'run ' || id || ' ' || coalesce(tenant_schema, '') || ' ' || coalesce(template_name, '') || ' '
                         || coalesce(target_date::text, '') || ' ' || action || ' ' || coalesce(row_count::text, '') FROM _wh.run_log
        """;

    public static async Task<List<string>> ReadAsync(string superuserConnectionString)
    {
        await using var db = new NpgsqlConnection(superuserConnectionString);
        await db.OpenAsync();
        var lines = await LinesAsync(db, FixedLines);
        if (await LinesAsync(db, "SELECT 'x' WHERE to_regclass('cron.job') IS NOT NULL") is { Count: > 0 })
            lines.AddRange(await LinesAsync(db,
                "SELECT 'cron ' || jobname || ' ' || schedule || ' ' || active || ' ' || database || ' ' || username FROM cron.job"));

        var relations = await LinesAsync(db,
            """
            SELECT format('%s %I.%I %s', CASE WHEN c.relname ~ '_[0-9]{4}_[0-9]{2}_[0-9]{2}$' THEN 'day'
                                              WHEN c.relname LIKE '%\_closed' THEN 'closed' ELSE 'view' END,
                          n.nspname, c.relname, c.relkind)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE (n.nspname IN ('up_a', 'up_b') OR (n.nspname = 'public' AND c.relname = 'foodlogstats'))
              AND c.relkind IN ('r', 'v', 'm')
              -- 2.1.0 adds <template>_recent, a copy of the daily materialized views' rows: what it holds is compared
              -- through the tenant and public views that read it.
              AND c.relname !~ '_recent$'
            """);
        foreach (var relation in relations)
        {
            var name = relation.Split(' ')[1];
            lines.Add(relation + " " + await CatalogSnapshot.ContentAsync(db, name));
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    /// <summary>
    /// The shape of the _wh schema: routines (signature and full definition), tables (columns by name, constraints,
    /// indexes, triggers), views, and their privileges. An upgraded warehouse must have the shape of a fresh install.
    /// </summary>
    public static async Task<List<string>> SchemaShapeAsync(string superuserConnectionString)
    {
        await using var db = new NpgsqlConnection(superuserConnectionString);
        await db.OpenAsync();
        var lines = await LinesAsync(db,
            """
            SELECT 'routine ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid)) || ' ' || coalesce(p.proacl::text, '')
              FROM pg_proc p WHERE p.pronamespace = '_wh'::regnamespace
            UNION ALL SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
              FROM pg_class c WHERE c.relnamespace = '_wh'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S', 'i')
            UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
                             || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE c.relnamespace = '_wh'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL SELECT 'constraint ' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = '_wh'::regnamespace
            UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = '_wh'::regnamespace
            UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid)
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = '_wh'::regnamespace AND NOT t.tgisinternal
            UNION ALL SELECT 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
              FROM pg_class c WHERE c.relnamespace = '_wh'::regnamespace AND c.relkind = 'v'
            UNION ALL SELECT 'info ' || key || ' ' || coalesce(value, '') FROM _wh.warehouse_info WHERE key <> 'installed_checksum'
            """);
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static Task<List<string>> LinesAsync(NpgsqlConnection db, string sql) => CatalogSnapshot.LinesAsync(db, sql);
}
