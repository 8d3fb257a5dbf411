using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;
using PhoodWarehouse.Core.Connections;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// Installs or upgrades the warehouse in the connected database from the embedded <c>sql/</c> scripts,
/// in one transaction: it either all happens or nothing does.
/// Connected as a superuser it also does the in-database part of <c>create.sql</c> (roles, extensions, grants);
/// connected as whadmin it does the <c>_wh</c> part and says what a superuser must still do.
/// </summary>
public sealed class WarehouseInstaller(WhConnection connection, ILogger logger)
{
    private const string ChecksumKey = "installed_checksum";

    public async Task<InstallPlan> PlanAsync(CancellationToken cancel)
    {
        var state = await ReadStateAsync(cancel);
        var targetVersion = TargetVersion();
        var checksum = SqlScripts.Checksum();
        var notes = new List<string>();

        if (!state.DblinkAvailable && !state.DblinkInstalled)
            throw new WarehouseException("DblinkUnavailable", WhErrorKind.NotInstalled,
                $"The dblink extension is not available on {connection.Target}. Install PostgreSQL's contrib modules on the server " +
                "(Debian/Ubuntu: the postgresql-<version> package; RHEL: postgresql<version>-contrib), then run Install-WhWarehouse again.",
                connection.Target);

        if (!state.IsSuperuser)
        {
            if (state.CurrentUser != "whadmin")
                throw new WarehouseException("InstallPermissionDenied", WhErrorKind.PermissionDenied,
                    $"Install-WhWarehouse must run as a superuser or as whadmin; you are connected as '{state.CurrentUser}'. Connect as postgres (or whadmin) and run it again.",
                    connection.Target);
            if (!state.DblinkInstalled || !state.WhSchemaExists)
                throw new WarehouseException("SuperuserRequired", WhErrorKind.PermissionDenied,
                    $"The superuser part of the install is missing on {connection.Target} (dblink extension, _wh schema, grants). " +
                    "Run sql/create.sql as postgres (see docs/operations.md), or run Install-WhWarehouse connected as a superuser.",
                    connection.Target);
            notes.Add("Connected as whadmin: roles, extensions and grants are a superuser's part (sql/create.sql); they are in place.");
        }

        var upToDate = state.InstalledChecksum == checksum && state.InstalledVersion == targetVersion;
        var steps = new List<string>();
        if (!upToDate)
        {
            if (state.IsSuperuser) steps.Add($"create roles, extensions and grants ({SqlScripts.SetupDatabase})");
            steps.Add(state.InstalledVersion is null
                ? $"install the _wh schema {targetVersion} as whadmin ({SqlScripts.Functions})"
                : $"upgrade the _wh schema {state.InstalledVersion} -> {targetVersion} in place as whadmin ({SqlScripts.Functions}): re-create every routine, keep every table's rows");
            if (state.InstalledVersion is not null)
                steps.AddRange(UpgradeSteps.For(state.InstalledVersion).Select(step => "  upgrade step: " + step));
            foreach (var file in SqlScripts.TemplateFiles())
                steps.Add($"load template '{SqlScripts.TemplateName(file)}' ({file})");
        }

        var pgCronReady = state.PgCronInstalled || (state.PgCronPreloaded && state.CronDatabase == connection.Database);
        if (!pgCronReady)
            notes.Add(state.PgCronAvailable
                ? $"pg_cron is not preloaded for this database: schedules are unavailable, everything else works. To enable them set shared_preload_libraries = 'pg_cron' and cron.database_name = '{connection.Database}', restart PostgreSQL and run Install-WhWarehouse again."
                : "pg_cron is not installed on the server: schedules are unavailable, everything else works. Install it (Debian: apt-get install postgresql-15-cron), preload it, and run Install-WhWarehouse again.");

        return new InstallPlan(connection.Target, state.IsSuperuser, state.InstalledVersion, targetVersion, upToDate,
            pgCronReady, steps, notes);
    }

    public async Task<WhInstallResult> InstallAsync(InstallPlan plan, CancellationToken cancel)
    {
        if (plan.UpToDate)
        {
            logger.LogInformation("The warehouse in {Target} is already at {Version}: nothing to do", plan.Target, plan.TargetVersion);
            return Result(plan, "UpToDate");
        }

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await db.BeginTransactionAsync(cancel);
        if (plan.AsSuperuser)
        {
            logger.LogInformation("Running {Script}", SqlScripts.SetupDatabase);
            await Db.ExecuteAsync(db, SqlScripts.Read(SqlScripts.SetupDatabase), cancel);
            await Db.ExecuteAsync(db, "SET LOCAL ROLE whadmin", cancel);
        }
        logger.LogInformation("Running {Script} as whadmin", SqlScripts.Functions);
        await Db.ExecuteAsync(db, SqlScripts.Read(SqlScripts.Functions), cancel);
        foreach (var file in SqlScripts.TemplateFiles())
        {
            logger.LogInformation("Loading {Script}", file);
            await Db.ExecuteAsync(db, SqlScripts.Read(file), cancel);
        }
        await using (var record = new NpgsqlCommand(
            "INSERT INTO _wh.warehouse_info (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", db))
        {
            record.Parameters.AddWithValue("key", ChecksumKey);
            record.Parameters.AddWithValue("value", SqlScripts.Checksum());
            await record.ExecuteNonQueryAsync(cancel);
        }
        await transaction.CommitAsync(cancel);
        connection.WarehouseVersion = plan.TargetVersion;
        var action = plan.InstalledVersion is null ? "Installed" : "Upgraded";
        logger.LogInformation("{Action} the warehouse {Version} in {Target}", action, plan.TargetVersion, plan.Target);
        return Result(plan, action);
    }

    private WhInstallResult Result(InstallPlan plan, string action) =>
        new(connection.Database, action, plan.InstalledVersion, plan.TargetVersion, plan.PgCronAvailable, plan.Steps, plan.Notes);


    /// <summary>The version functions.sql writes into _wh.warehouse_info.</summary>
    public static string TargetVersion()
    {
        var match = Regex.Match(SqlScripts.Read(SqlScripts.Functions), @"'schema_version'\s*,\s*'([^']+)'");
        return match.Success ? match.Groups[1].Value : "unknown";
    }

    private sealed record InstallState(
        string CurrentUser, bool IsSuperuser, bool DblinkAvailable, bool DblinkInstalled,
        bool PgCronAvailable, bool PgCronPreloaded, bool PgCronInstalled, string? CronDatabase,
        bool WhSchemaExists, string? InstalledVersion, string? InstalledChecksum);

    private async Task<InstallState> ReadStateAsync(CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = new NpgsqlCommand(
            $"""
            SELECT current_user,
                   (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                   EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'dblink'),
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'dblink'),
                   EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'),
                   -- these settings are superuser-only; a non-superuser relies on pg_cron being installed already
                   CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                        THEN current_setting('shared_preload_libraries') ~ '(^|[\s,])pg_cron([\s,]|$)' ELSE false END,
                   EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'),
                   CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                        THEN current_setting('cron.database_name', true) END,
                   EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '_wh'),
                   {CatalogSql.WarehouseReadable}
            """, db);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        var user = reader.GetString(0);
        var superuser = reader.GetBoolean(1);
        var dblinkAvailable = reader.GetBoolean(2);
        var dblinkInstalled = reader.GetBoolean(3);
        var cronAvailable = reader.GetBoolean(4);
        var cronPreloaded = reader.GetBoolean(5);
        var cronInstalled = reader.GetBoolean(6);
        var cronDatabase = reader.IsDBNull(7) ? null : reader.GetString(7);
        var schemaExists = reader.GetBoolean(8);
        var infoReadable = reader.GetBoolean(9);
        await reader.DisposeAsync();

        string? version = null, checksum = null;
        if (infoReadable)
        {
            await using var info = new NpgsqlCommand(
                "SELECT max(value) FILTER (WHERE key = 'schema_version'), max(value) FILTER (WHERE key = @key) FROM _wh.warehouse_info", db);
            info.Parameters.AddWithValue("key", ChecksumKey);
            await using var infoReader = await info.ExecuteReaderAsync(cancel);
            await infoReader.ReadAsync(cancel);
            version = infoReader.IsDBNull(0) ? null : infoReader.GetString(0);
            checksum = infoReader.IsDBNull(1) ? null : infoReader.GetString(1);
        }
        return new InstallState(user, superuser, dblinkAvailable, dblinkInstalled, cronAvailable, cronPreloaded,
            cronInstalled, cronDatabase, schemaExists, version, checksum);
    }
}
