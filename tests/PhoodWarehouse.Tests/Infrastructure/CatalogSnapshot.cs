namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A text picture of everything a warehouse command could change, lose or leak, read as the superuser: schemas,
/// relations with their columns, indexes, triggers, policies and the row count and content hash of every table,
/// materialized view and view (daily views, compacted tables, tenant and public views, every _wh table including the
/// run log); routines (full definition); every ACL (database, schemas, relations, routines, foreign servers and
/// wrappers, default privileges); role attributes and memberships; servers and user mappings; extensions; cron jobs
/// and their run history. Equal before and after → nothing changed. Its own test: CatalogSnapshotTests.
/// </summary>
public static class CatalogSnapshot
{
    private const string UserSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

    private const string CatalogSql =
        $"""
        SELECT 'database ' || datname || ' ' || coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()
        UNION ALL SELECT 'schema ' || n.nspname || ' ' || pg_get_userbyid(n.nspowner) || ' ' || coalesce(n.nspacl::text, '') FROM pg_namespace n WHERE {UserSchemas}
        UNION ALL SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
                         || ' rls=' || c.relrowsecurity::text || ' opts=' || coalesce(c.reloptions::text, '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas}
        UNION ALL SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
                         || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(a.attacl::text, '')
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE {UserSchemas} AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL SELECT 'index ' || n.nspname || ' ' || pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas}
        UNION ALL SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas}
        UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas} AND NOT t.tgisinternal
        UNION ALL SELECT 'rule ' || n.nspname || '.' || c.relname || ' ' || r.rulename || ' ' || md5(pg_get_ruledef(r.oid))
          FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas}
        UNION ALL SELECT 'policy ' || n.nspname || '.' || c.relname || ' ' || p.polname || ' ' || p.polcmd::text || ' ' || p.polroles::text
                         || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        UNION ALL SELECT 'event-trigger ' || evtname || ' ' || evtevent || ' ' || evtenabled::text FROM pg_event_trigger
        UNION ALL SELECT 'proc ' || p.oid::regprocedure::text || ' ' || pg_get_userbyid(p.proowner) || ' ' || coalesce(p.proacl::text, '') || ' '
                         || CASE WHEN p.prokind IN ('f', 'p', 'w') THEN md5(pg_get_functiondef(p.oid)) ELSE md5(p.prosrc) END
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {UserSchemas}
        UNION ALL SELECT 'default-acl ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text || ' ' || d.defaclacl::text
          FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        UNION ALL SELECT 'fdw ' || fdwname || ' ' || pg_get_userbyid(fdwowner) || ' ' || coalesce(fdwacl::text, '') FROM pg_foreign_data_wrapper
        UNION ALL SELECT 'server ' || srvname || ' ' || pg_get_userbyid(srvowner) || ' ' || coalesce(srvoptions::text, '') || ' ' || coalesce(srvacl::text, '') FROM pg_foreign_server
        UNION ALL SELECT 'mapping ' || srvname || ' ' || usename || ' ' || coalesce(umoptions::text, '') FROM pg_user_mappings
        UNION ALL SELECT 'role ' || rolname || ' login=' || rolcanlogin::text || ' super=' || rolsuper::text || ' createrole=' || rolcreaterole::text
                         || ' createdb=' || rolcreatedb::text || ' replication=' || rolreplication::text || ' bypassrls=' || rolbypassrls::text
                         || ' inherit=' || rolinherit::text || ' connlimit=' || rolconnlimit || ' has-password=' || (rolpassword IS NOT NULL)::text
          FROM pg_authid WHERE rolname !~ '^pg_'
        UNION ALL SELECT 'member ' || pg_get_userbyid(m.roleid) || ' ' || pg_get_userbyid(m.member) || ' admin=' || m.admin_option::text FROM pg_auth_members m
        UNION ALL SELECT 'role-setting ' || coalesce(pg_get_userbyid(s.setrole), '*') || ' ' || s.setconfig::text FROM pg_db_role_setting s
        UNION ALL SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
        ORDER BY 1
        """;

    public static async Task<string> TakeAsync(string superuserConnectionString)
    {
        await using var db = new NpgsqlConnection(superuserConnectionString);
        await db.OpenAsync();
        var lines = await LinesAsync(db, CatalogSql);

        // Rows: every table, materialized view and view outside the system schemas, by count and content. Not the
        // monitoring views (schema phood_monitor): live readings of what is hashed here (seconds late grow with the
        // clock, runs in the last 24 hours move), whose definitions the lines above hold.
        foreach (var relation in await LinesAsync(db,
                     $"SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {UserSchemas} AND c.relkind IN ('r', 'm', 'v', 'p') AND n.nspname NOT IN ('cron', 'phood_monitor') ORDER BY 1"))
        {
            lines.Add($"rows {relation} {await ContentAsync(db, relation)}");
        }
        if ((await LinesAsync(db, "SELECT 'yes' WHERE to_regclass('cron.job') IS NOT NULL")).Count > 0)
        {
            lines.AddRange(await LinesAsync(db,
                "SELECT 'cron ' || jobid || ' ' || coalesce(jobname, '') || ' ' || schedule || ' ' || command || ' ' || database || ' ' || username || ' ' || active || ' ' || nodename FROM cron.job ORDER BY jobid"));
            lines.AddRange(await LinesAsync(db,
                "SELECT 'cron-run ' || jobid || ' ' || runid || ' ' || coalesce(status, '') || ' ' || md5(coalesce(command, '')) FROM cron.job_run_details ORDER BY runid"));
        }
        return string.Join("\n", lines);
    }

    /// <summary>
    /// A snapshot without the run log's line: for a command that fails on purpose, whose only trace must be the run
    /// log's record of that failure (the test asserts that record separately).
    /// </summary>
    public static string WithoutRunLog(string snapshot) =>
        string.Join("\n", snapshot.Split('\n').Where(line => !line.StartsWith("rows _wh.run_log ", StringComparison.Ordinal)));

    /// <summary>"count hash" of a relation's rows (hash over every row's text, in a stable order; "-" when empty).</summary>
    internal static async Task<string> ContentAsync(NpgsqlConnection db, string relation) =>
        (await LinesAsync(db, $"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM {relation} t"))[0];

    /// <summary>The first column of every row, as text ("NULL" for a null).</summary>
    internal static async Task<List<string>> LinesAsync(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 300 };
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync()) lines.Add(reader.IsDBNull(0) ? "NULL" : reader.GetString(0));
        return lines;
    }
}
