namespace PhoodWarehouse.Core.Install;

/// <summary>
/// What the superuser part of the install (setup-database.sql) has put in place, read from pg_catalog only: a
/// superuser session never reads a <c>_wh</c> relation (one could be a view over whadmin's code).
/// </summary>
internal sealed record SuperuserState(
    bool DblinkAvailable, bool DblinkInstalled, bool PgCronAvailable, bool PgCronReady, bool PgCronInstalled,
    bool WhSchemaExists, bool InPlace, bool? WhadminHasPassword, string? InstalledVersion, bool WhadminExists, bool WhadminCanCreateSchema, bool AdminInWhadmin)
{
    public static async Task<SuperuserState> ReadAsync(NpgsqlConnection db, string database, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            """
            WITH s AS (
                SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) AS su,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'whadmin') AS whadmin,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'whadmin')
                         AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'phood_ro')
                         AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'phood_monitor') AS roles,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name OPERATOR(pg_catalog.=) 'dblink') AS dblink_available,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'dblink') AS dblink,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name OPERATOR(pg_catalog.=) 'pg_cron') AS cron_available,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_cron') AS cron,
                       (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) '_wh') AS wh,
                       -- the settings below are readable by a superuser and by pg_read_all_settings (a managed admin)
                       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user)
                         OR pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') AS settings_readable
            )
            SELECT dblink_available, dblink, cron_available,
                   cron OR CASE WHEN settings_readable
                                THEN pg_catalog.current_setting('shared_preload_libraries') OPERATOR(pg_catalog.~) '(^|[\s,])"?pg_cron"?([\s,]|$)'
                                     AND pg_catalog.current_setting('cron.database_name', true) IS NOT DISTINCT FROM @db
                                ELSE false END,
                   cron, wh IS NOT NULL,
                   CASE WHEN roles AND dblink THEN
                         (wh IS NULL OR (SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) wh) OPERATOR(pg_catalog.=) 'whadmin')
                     AND pg_catalog.has_database_privilege('whadmin', pg_catalog.current_database(), 'CREATE')
                     AND pg_catalog.has_database_privilege('whadmin', pg_catalog.current_database(), 'CONNECT')
                     AND pg_catalog.has_database_privilege('phood_ro', pg_catalog.current_database(), 'CONNECT')
                     AND pg_catalog.has_database_privilege('phood_monitor', pg_catalog.current_database(), 'CONNECT')
                     AND EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting rs
                                 WHERE rs.setdatabase OPERATOR(pg_catalog.=) 0
                                   AND rs.setrole OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'phood_monitor')
                                   AND 'search_path=phood_monitor' OPERATOR(pg_catalog.=) ANY (rs.setconfig))
                     AND NOT pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'CONNECT')
                     AND EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting rs
                                 WHERE rs.setdatabase OPERATOR(pg_catalog.=) 0
                                   AND rs.setrole OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'phood_ro')
                                   AND 'search_path=public' OPERATOR(pg_catalog.=) ANY (rs.setconfig))
                     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                                     WHERE p.oid IN (pg_catalog.to_regprocedure('public.dblink_connect_u(text)'), pg_catalog.to_regprocedure('public.dblink_connect_u(text,text)'))
                                       AND pg_catalog.has_function_privilege('whadmin', p.oid, 'EXECUTE'))
                     AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) 'cron')
                          OR pg_catalog.has_schema_privilege('whadmin', 'cron', 'USAGE'))
                     AND CASE WHEN pg_catalog.to_regprocedure('public.wh_streaming_replicas()') IS NULL THEN false
                              ELSE pg_catalog.has_function_privilege('whadmin', pg_catalog.to_regprocedure('public.wh_streaming_replicas()')::oid, 'EXECUTE') END
                   ELSE false END,
                   pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT'),
                   substring(pg_catalog.obj_description(wh, 'pg_namespace') FROM 'schema version ([0-9A-Za-z.+-]+)'),
                   whadmin,
                   whadmin AND pg_catalog.has_database_privilege('whadmin', pg_catalog.current_database(), 'CREATE'),
                   -- a managed admin that is a member of whadmin (what releases before 2.2 needed): not a superuser, who is
                   -- a member of every role by definition
                   whadmin AND NOT su AND EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                                                  WHERE m.roleid OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'whadmin')
                                                    AND m.member OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user))
            FROM s
            """, db);
        command.Parameters.AddWithValue("db", database);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        var cronReady = !reader.IsDBNull(3) && reader.GetBoolean(3);
        var cronInstalled = reader.GetBoolean(4);
        var state = new SuperuserState(reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), cronReady, cronInstalled,
            reader.GetBoolean(5), reader.GetBoolean(6) && (!cronReady || cronInstalled), null, reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.GetBoolean(9), reader.GetBoolean(10), reader.GetBoolean(11));
        var authidReadable = reader.GetBoolean(7);
        await reader.DisposeAsync();
        // Only a real superuser reads pg_authid (not RDS's master user): elsewhere whether whadmin has a password is unknown.
        if (!authidReadable) return state;
        return state with
        {
            WhadminHasPassword = await Db.ScalarAsync<bool>(db,
                "SELECT coalesce((SELECT a.rolpassword IS NOT NULL FROM pg_catalog.pg_authid a WHERE a.rolname OPERATOR(pg_catalog.=) 'whadmin'), false)", cancel),
        };
    }
}
