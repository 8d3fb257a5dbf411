using Npgsql;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A text picture of everything a warehouse command could change: schemas, relations, functions, servers,
/// user mappings, roles, cron jobs and the rows of the _wh tables. Equal before and after → nothing changed.
/// </summary>
public static class CatalogSnapshot
{
    private const string CatalogSql =
        """
        SELECT 'schema ' || nspname || ' ' || pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
        UNION ALL SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        UNION ALL SELECT 'view ' || schemaname || '.' || viewname || ' ' || md5(definition) FROM pg_views WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
        UNION ALL SELECT 'proc ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        UNION ALL SELECT 'server ' || srvname || ' ' || coalesce(srvoptions::text, '') FROM pg_foreign_server
        UNION ALL SELECT 'mapping ' || srvname || ' ' || usename || ' ' || coalesce(umoptions::text, '') FROM pg_user_mappings
        UNION ALL SELECT 'role ' || rolname || ' ' || rolcanlogin FROM pg_roles WHERE rolname !~ '^pg_'
        UNION ALL SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
        ORDER BY 1
        """;

    public static async Task<string> TakeAsync(string superuserConnectionString)
    {
        await using var db = new NpgsqlConnection(superuserConnectionString);
        await db.OpenAsync();
        var lines = new List<string>();
        await using (var command = new NpgsqlCommand(CatalogSql, db))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) lines.Add(reader.GetString(0));

        foreach (var table in await WarehouseTablesAsync(db))
        {
            await using var rows = new NpgsqlCommand($"SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') FROM {table} t", db);
            lines.Add($"rows {table} {await rows.ExecuteScalarAsync()}");
        }
        if (await ExistsAsync(db, "SELECT to_regclass('cron.job') IS NOT NULL"))
        {
            await using var jobs = new NpgsqlCommand("SELECT coalesce(string_agg(jobname || ' ' || schedule || ' ' || command || ' ' || active, '|' ORDER BY jobname), '') FROM cron.job", db);
            lines.Add("cron " + await jobs.ExecuteScalarAsync());
        }
        return string.Join("\n", lines);
    }

    private static async Task<List<string>> WarehouseTablesAsync(NpgsqlConnection db)
    {
        var tables = new List<string>();
        await using var command = new NpgsqlCommand(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = '_wh' AND tablename <> 'run_log' ORDER BY 1", db);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) tables.Add(reader.GetString(0));
        return tables;
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db);
        return (bool)(await command.ExecuteScalarAsync())!;
    }
}
