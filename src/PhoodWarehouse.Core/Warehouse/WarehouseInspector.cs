namespace PhoodWarehouse.Core.Warehouse;

/// <summary>
/// Reads <see cref="WhWarehouse"/> in a few cheap catalog queries; works before install, too. A superuser session
/// reads pg_catalog only (docs/security.md): the schema version from the _wh schema's comment, and no counts.
/// </summary>
public sealed class WarehouseInspector(WhConnection connection)
{
    public async Task<WhWarehouse> InspectAsync(CancellationToken cancel)
    {
        await using var session = await CatalogSession.OpenAsync(connection.CatalogDataSource, cancel);
        var db = session.Db;
        await using var command = new NpgsqlCommand(
            $"""
            SELECT current_setting('server_version'),
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'dblink'),
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'),
                   pg_database_size(current_database()),
                   current_setting('max_locks_per_transaction')::int,
                   current_setting('max_connections')::int,
                   {CatalogSql.WarehouseReadable},
                   EXISTS (SELECT 1 FROM pg_namespace n WHERE nspname = 'cron' AND has_schema_privilege(n.oid, 'USAGE'))
            """, db);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        var serverVersion = reader.GetString(0);
        var dblink = reader.GetBoolean(1);
        var pgCron = reader.GetBoolean(2);
        var size = reader.GetInt64(3);
        var maxLocks = reader.GetInt32(4);
        var maxConnections = reader.GetInt32(5);
        var installed = reader.GetBoolean(6);
        // pg_cron's history is not pg_catalog: a superuser session leaves it to whadmin, as the counts.
        var cronReadable = reader.GetBoolean(7) && pgCron && !connection.IsSuperuser;
        await reader.DisposeAsync();

        string? version = null;
        int tenants = 0, templates = 0, dailyViews = 0;
        // An admin session may not read _wh (a managed admin has no USAGE on it): the version comes from pg_catalog.
        if (connection.IsSuperuser)
        {
            version = await Db.ScalarAsync<string>(db,
                "SELECT substring(pg_catalog.obj_description(n.oid, 'pg_namespace') FROM 'schema version ([0-9A-Za-z.+-]+)') FROM pg_catalog.pg_namespace n WHERE n.nspname = '_wh'",
                cancel);
        }
        else if (installed)
        {
            await using var counts = new NpgsqlCommand(
                """
                SELECT (SELECT value FROM _wh.warehouse_info WHERE key = 'schema_version'),
                       (SELECT count(*)::int FROM _wh.tenants),
                       (SELECT count(*)::int FROM _wh.mv_templates),
                       to_regclass('_wh.daily_views') IS NOT NULL
                """, db);
            await using var countReader = await counts.ExecuteReaderAsync(cancel);
            await countReader.ReadAsync(cancel);
            version = countReader.IsDBNull(0) ? null : countReader.GetString(0);
            tenants = countReader.GetInt32(1);
            templates = countReader.GetInt32(2);
            var catalog = countReader.GetBoolean(3);
            await countReader.DisposeAsync();
            // The catalog of daily views came with schema 2.0.0; an older schema (to be upgraded) counts none yet.
            if (catalog) dailyViews = await Db.ScalarAsync<int>(db, "SELECT count(*)::int FROM _wh.daily_views", cancel);
        }

        long? cronRows = null, cronSize = null;
        if (cronReadable)
        {
            await using var cron = new NpgsqlCommand(
                "SELECT count(*), pg_total_relation_size('cron.job_run_details') FROM cron.job_run_details", db);
            await using var cronReader = await cron.ExecuteReaderAsync(cancel);
            await cronReader.ReadAsync(cancel);
            cronRows = cronReader.GetInt64(0);
            cronSize = cronReader.GetInt64(1);
        }

        var headroom = await LockHeadroom.ReadAsync(db, cancel);
        return new WhWarehouse
        {
            LargestViewLocks = headroom.Locks,
            LockCapacity = headroom.Capacity,
            LockWarning = headroom.WarningFor(headroom.Locks, "Now"),
            Server = connection.Server,
            Port = connection.Port,
            Database = connection.Database,
            User = connection.User,
            ServerVersion = serverVersion,
            SchemaVersion = version,
            RequiredSchemaVersion = Install.SchemaVersion.Required,
            ModuleVersion = Install.SchemaVersion.ModuleVersion,
            SchemaWarning = Install.SchemaVersion.Warning(version, connection.Target),
            Dblink = dblink,
            PgCron = pgCron,
            TenantCount = tenants,
            TemplateCount = templates,
            DailyViewCount = dailyViews,
            DatabaseSizeBytes = size,
            CronHistoryRows = cronRows,
            CronHistorySizeBytes = cronSize,
            MaxLocksPerTransaction = maxLocks,
            MaxConnections = maxConnections,
        };
    }
}
