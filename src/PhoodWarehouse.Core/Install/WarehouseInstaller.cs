using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// Installs or upgrades the warehouse in the connected database from the embedded <c>sql/</c> scripts, in two parts
/// that never mix (docs/security.md, finding 1):
/// <list type="bullet">
/// <item>connected as a superuser: the superuser part only (setup-database.sql: roles, extensions, grants, pg_cron),
/// after checking pg_catalog for code the scripts do not define; it reads no <c>_wh</c> relation and runs no <c>_wh</c>
/// function. With <paramref name="whadminLogin"/> it then does the <c>_wh</c> part over that second session;</item>
/// <item>connected as whadmin: the <c>_wh</c> part (functions.sql, templates), in one transaction.</item>
/// </list>
/// </summary>
public sealed class WarehouseInstaller(WhConnection connection, ILogger logger, ConnectionRequest? whadminLogin = null)
{
    /// <summary>The password of <c>whadminLogin</c>: whadmin gets it when it has none yet (a new install).</summary>
    private string? WhadminPassword => whadminLogin?.ToBuilder().Password;

    private const string ChecksumKey = "installed_checksum";

    /// <summary>The next step when a superuser ran the superuser part without -WhadminCredential.</summary>
    public const string WhadminStep =
        "The _wh part runs as whadmin: connect as whadmin (Connect-WhWarehouse -Credential whadmin) and run Install-WhWarehouse, " +
        "or run Install-WhWarehouse -WhadminCredential (psql: \\c <database> whadmin, then \\i sql/functions.sql and the templates).";

    public async Task<InstallPlan> PlanAsync(CancellationToken cancel) =>
        connection.IsSuperuser ? await PlanSuperuserAsync(cancel) : await PlanWhadminAsync(cancel);

    public async Task<WhInstallResult> InstallAsync(InstallPlan plan, CancellationToken cancel) =>
        plan.AsSuperuser ? await InstallSuperuserAsync(plan, cancel) : await InstallWhadminAsync(plan, cancel);

    // ---- superuser part ----------------------------------------------------------------------------------

    private async Task<InstallPlan> PlanSuperuserAsync(CancellationToken cancel)
    {
        if (whadminLogin is not null && (string.IsNullOrEmpty(WhadminPassword) || Regex.IsMatch(WhadminPassword, "^STUB_[A-Z_]+_PASSWORD$")))
            throw new WarehouseException("InvalidPassword", WhErrorKind.InvalidArgument,
                "-WhadminCredential holds an empty password or a stub of sql/create.sql (STUB_WHADMIN_PASSWORD): give whadmin a secure password. Nothing was changed.",
                connection.Target);
        await using var session = await CatalogSession.OpenAsync(connection.CatalogDataSource, cancel);
        var db = session.Db;
        var state = await SuperuserState.ReadAsync(db, connection.Database, cancel);
        RequireDblink(state.DblinkAvailable || state.DblinkInstalled);
        var untrusted = await UntrustedCode.FindAsync(db, cancel);
        if (untrusted.Count > 0) throw UntrustedCode.Refusal(connection.Target, untrusted);

        var steps = new List<string>();
        var notes = new List<string>();
        if (!state.InPlace) steps.Add($"create roles, extensions and grants as {connection.User} ({SqlScripts.SetupDatabase})");
        // whadmin gets the password of -WhadminCredential when the install creates it, or when it has none (a superuser
        // reads pg_authid; a managed admin cannot, and learns it from whadmin's login below).
        var setPassword = WhadminPassword is not null && (!state.WhadminExists || state.WhadminHasPassword == false);
        if (setPassword)
            steps.Add(state.WhadminExists
                ? "set whadmin's password from -WhadminCredential (whadmin has none yet)"
                : "create whadmin with the password of -WhadminCredential");
        if (!state.PgCronReady) notes.Add(PgCronNote(state.PgCronAvailable));
        if (state.AdminInWhadmin)
            notes.Add($"{connection.User} is a member of whadmin, which this release does not need (whadmin creates its own schema): " +
                      $"REVOKE whadmin FROM {connection.User}; a member of whadmin runs whadmin's code with its own rights (docs/security.md).");

        if (whadminLogin is null)
        {
            notes.Add("Connected as a superuser: only the superuser part runs here. " + WhadminStep);
            return new InstallPlan(connection.Target, true, state.InstalledVersion, TargetVersion(), state.InPlace,
                state.PgCronReady, steps, notes) { SuperuserPart = !state.InPlace, NextStep = WhadminStep };
        }

        // The whadmin part, planned over whadmin's own login whenever a _wh schema is there (an upgrade: its steps are
        // listed, even when the superuser part must run first, as from 0.1.0; a wrong password stops here, before
        // anything changes); on a new install whadmin logs in once the superuser part made it.
        InstallPlan? whadmin = null;
        if (state.WhSchemaExists && !setPassword)
        {
            using var whadminSession = await WarehouseConnector.ConnectAsync(whadminLogin, logger, cancel);
            whadmin = await new WarehouseInstaller(whadminSession, logger).PlanAsync(cancel);
        }
        if (whadmin is null)
        {
            steps.Add($"{(state.InstalledVersion is null ? "install" : "upgrade")} the _wh schema {TargetVersion()} over a whadmin session ({SqlScripts.Functions})");
            steps.AddRange(SqlScripts.TemplateFiles().Select(file => $"load template '{SqlScripts.TemplateName(file)}' ({file})"));
        }
        else
        {
            steps.AddRange(whadmin.Steps.Select(step => step + " (whadmin session)"));
        }
        var upToDate = state.InPlace && !setPassword && whadmin is { UpToDate: true };
        return new InstallPlan(connection.Target, true, whadmin?.InstalledVersion ?? state.InstalledVersion, TargetVersion(), upToDate,
            state.PgCronReady, steps, notes)
        { SuperuserPart = !state.InPlace, SetWhadminPassword = setPassword, WhadminPart = true };
    }

    private async Task<WhInstallResult> InstallSuperuserAsync(InstallPlan plan, CancellationToken cancel)
    {
        if (plan.SuperuserPart || plan.SetWhadminPassword)
        {
            // Names resolve in pg_catalog only: no function or operator someone put in public is picked up.
            await using var session = await CatalogSession.OpenAsync(connection.CatalogDataSource, cancel);
            var db = session.Db;
            var state = await SuperuserState.ReadAsync(db, connection.Database, cancel);
            var untrusted = await UntrustedCode.FindAsync(db, cancel);
            if (untrusted.Count > 0) throw UntrustedCode.Refusal(connection.Target, untrusted);
            if (plan.SuperuserPart)
            {
                logger.LogInformation("Running {Script} as {User}", SqlScripts.SetupDatabase, connection.User);
                await Db.ExecuteAsync(db, SqlScripts.Read(SqlScripts.SetupDatabase), cancel);
            }
            if (plan.SetWhadminPassword)
            {
                logger.LogInformation("Setting whadmin's password from -WhadminCredential");
                await SetWhadminPasswordAsync(db, cancel);
            }
            await session.CommitAsync(cancel);
        }

        if (!plan.WhadminPart)
        {
            var done = plan.SuperuserPart ? "Prepared" : "UpToDate";
            logger.LogInformation("Superuser part {State} in {Target}; next: {Next}", plan.SuperuserPart ? "done" : "already in place", plan.Target, WhadminStep);
            return Result(plan, done, plan.InstalledVersion ?? "(not installed)") with { NextStep = WhadminStep };
        }

        logger.LogInformation("Opening a whadmin session for the _wh part");
        using var whadmin = await WarehouseConnector.ConnectAsync(whadminLogin!, logger, cancel);
        var installer = new WarehouseInstaller(whadmin, logger);
        var result = await installer.InstallAsync(await installer.PlanAsync(cancel), cancel);
        var action = plan.UpToDate ? "UpToDate" : result.Action == "UpToDate" ? "Upgraded" : result.Action;
        return result with { Action = action, Steps = plan.Steps, Notes = plan.Notes };
    }

    /// <summary>
    /// Sets whadmin's password from -WhadminCredential. It travels as a bind parameter and is set inside a DO block whose
    /// failure is re-raised without the statement: neither the logged statement nor an error's context holds the
    /// secret. A superuser also turns statement logging off for the transaction (a managed admin may not).
    /// </summary>
    private async Task SetWhadminPasswordAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var password = WhadminPassword;
        await Db.ExecuteAsync(db,
            """
            DO $$ BEGIN
                IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
                    SET LOCAL log_statement = 'none';
                    SET LOCAL log_min_error_statement = 'panic';
                END IF;
            END $$
            """, cancel);
        await Db.ExecuteAsync(db, "SELECT pg_catalog.set_config('phood.install_whadmin_password', @p, true)", cancel, ("p", password));
        await Db.ExecuteAsync(db,
            """
            DO $$ BEGIN
                EXECUTE pg_catalog.format('ALTER ROLE whadmin WITH LOGIN PASSWORD %L', pg_catalog.current_setting('phood.install_whadmin_password'));
                PERFORM pg_catalog.set_config('phood.install_whadmin_password', '', true);
            EXCEPTION WHEN OTHERS THEN
                RAISE EXCEPTION 'could not set the password of whadmin: %', SQLERRM USING ERRCODE = SQLSTATE;
            END $$
            """, cancel);
    }

    // ---- whadmin part ------------------------------------------------------------------------------------

    private async Task<InstallPlan> PlanWhadminAsync(CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var state = await SuperuserState.ReadAsync(db, connection.Database, cancel);
        RequireDblink(state.DblinkAvailable || state.DblinkInstalled);
        var user = await Db.ScalarAsync<string>(db, "SELECT current_user", cancel);
        if (user != "whadmin")
            throw new WarehouseException("InstallPermissionDenied", WhErrorKind.PermissionDenied,
                $"Install-WhWarehouse must run as a superuser (the superuser part) or as whadmin (the _wh part); you are connected as '{user}'. Connect as postgres or whadmin and run it again.",
                connection.Target);
        if (!state.DblinkInstalled || !state.WhadminCanCreateSchema)
            throw new WarehouseException("SuperuserRequired", WhErrorKind.PermissionDenied,
                $"The admin's part of the install is missing on {connection.Target} (dblink extension, grants). " +
                "Run sql/create.sql as postgres or the managed server's admin (see docs/deployment.md), or run Install-WhWarehouse connected as one.",
                connection.Target);

        var (version, checksum) = await ReadInstalledAsync(db, cancel);
        var targetVersion = TargetVersion();
        // The monitoring login's grants are whadmin's to give (functions.sql), once the admin's part has made the login:
        // an admin part run after whadmin's leaves it without them until functions.sql runs again.
        var monitorLogin = await Db.ScalarAsync<bool>(db,
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'phood_monitor')", cancel);
        var monitorGranted = !monitorLogin || await Db.ScalarAsync<bool>(db,
            "SELECT coalesce(pg_catalog.has_table_privilege('phood_monitor', pg_catalog.to_regclass('phood_monitor.freshness'), 'SELECT'), false)", cancel);
        // No checksum: functions.sql ran from psql, from the release of that version.
        var upToDate = version == targetVersion && (checksum is null || checksum == SqlScripts.Checksum()) && monitorGranted;
        var steps = new List<string>();
        if (!upToDate && version == targetVersion && !monitorGranted)
        {
            steps.Add($"give the monitoring login phood_monitor its views ({SqlScripts.Functions} again as whadmin: it grants them)");
        }
        else if (!upToDate)
        {
            steps.Add(version is null
                ? $"install the _wh schema {targetVersion} as whadmin ({SqlScripts.Functions})"
                : $"upgrade the _wh schema {version} -> {targetVersion} in place as whadmin ({SqlScripts.Functions}): re-create every routine, keep every table's rows");
            if (version is not null)
                steps.AddRange(UpgradeSteps.For(version).Select(step => "  upgrade step: " + step));
            steps.AddRange(SqlScripts.TemplateFiles().Select(file => $"load template '{SqlScripts.TemplateName(file)}' ({file})"));
        }
        var notes = new List<string> { "Connected as whadmin: roles, extensions and grants are a superuser's part (sql/create.sql); they are in place." };
        if (!monitorLogin)
            notes.Add("The monitoring login phood_monitor does not exist yet (docs/monitoring.md): run sql/create.sql or Install-WhWarehouse as a superuser " +
                      "or the managed server's admin, then Install-WhWarehouse as whadmin again to give it its views.");
        if (!state.PgCronReady) notes.Add(PgCronNote(state.PgCronAvailable));
        return new InstallPlan(connection.Target, false, version, targetVersion, upToDate, state.PgCronReady, steps, notes)
        { WhadminPart = true };
    }

    private async Task<WhInstallResult> InstallWhadminAsync(InstallPlan plan, CancellationToken cancel)
    {
        if (plan.UpToDate)
        {
            logger.LogInformation("The warehouse in {Target} is already at {Version}: nothing to do", plan.Target, plan.TargetVersion);
            return Result(plan, "UpToDate", plan.TargetVersion);
        }

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await db.BeginTransactionAsync(cancel);
        logger.LogInformation("Running {Script} as whadmin", SqlScripts.Functions);
        await Db.ExecuteAsync(db, SqlScripts.WithoutOwnTransaction(SqlScripts.Read(SqlScripts.Functions)), cancel);
        foreach (var file in SqlScripts.TemplateFiles())
        {
            logger.LogInformation("Loading {Script}", file);
            await Db.ExecuteAsync(db, SqlScripts.Read(file), cancel);
        }
        await Db.ExecuteAsync(db,
            "INSERT INTO _wh.warehouse_info (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            cancel, ("key", ChecksumKey), ("value", SqlScripts.Checksum()));
        await transaction.CommitAsync(cancel);
        connection.WarehouseVersion = plan.TargetVersion;
        var action = plan.InstalledVersion is null ? "Installed" : "Upgraded";
        logger.LogInformation("{Action} the warehouse {Version} in {Target}", action, plan.TargetVersion, plan.Target);
        return Result(plan, action, plan.TargetVersion);
    }

    private static async Task<(string? Version, string? Checksum)> ReadInstalledAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        if (!await Db.ScalarAsync<bool>(db, $"SELECT {CatalogSql.WarehouseReadable}", cancel)) return (null, null);
        await using var info = Db.Command(db,
            "SELECT max(value) FILTER (WHERE key = 'schema_version'), max(value) FILTER (WHERE key = @key) FROM _wh.warehouse_info",
            ("key", ChecksumKey));
        await using var reader = await info.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
    }

    // ---- shared --------------------------------------------------------------------------------------------

    private WhInstallResult Result(InstallPlan plan, string action, string schemaVersion) =>
        new(connection.Database, action, plan.InstalledVersion, schemaVersion, plan.PgCronAvailable, plan.Steps, plan.Notes);

    private void RequireDblink(bool available)
    {
        if (!available)
            throw new WarehouseException("DblinkUnavailable", WhErrorKind.NotInstalled,
                $"The dblink extension is not available on {connection.Target}. Install PostgreSQL's contrib modules on the server " +
                "(Debian/Ubuntu: the postgresql-<version> package; RHEL: postgresql<version>-contrib), then run Install-WhWarehouse again.",
                connection.Target);
    }

    private string PgCronNote(bool available) => available
        ? $"pg_cron is not preloaded for this database: schedules are unavailable, everything else works. To enable them set shared_preload_libraries = 'pg_cron' and cron.database_name = '{connection.Database}', restart PostgreSQL and run Install-WhWarehouse again."
        : "pg_cron is not installed on the server: schedules are unavailable, everything else works. Install it (Debian: apt-get install postgresql-15-cron), preload it, and run Install-WhWarehouse again.";

    /// <summary>The version functions.sql writes into _wh.warehouse_info.</summary>
    public static string TargetVersion()
    {
        var match = Regex.Match(SqlScripts.Read(SqlScripts.Functions), @"'schema_version'\s*,\s*'([^']+)'");
        return match.Success ? match.Groups[1].Value : "unknown";
    }
}
