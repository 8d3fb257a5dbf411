using System.Diagnostics;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// Tenants: list, add, change, test and remove, each change in one transaction, so that a failure leaves
/// nothing half done. Credentials go into a dblink foreign server's user mapping (via _wh.tenant_connections),
/// never into a view definition, a log line or a message.
/// </summary>
public sealed class TenantStore(WhConnection connection, ILogger logger)
{
    // Templates: those with a tenant view or daily views in the schema. Daily views: the catalog's (_wh.daily_views),
    // read in one pass for every tenant.
    private const string ListSql =
        """
        SELECT t.schema_name, t.connection_name, t.client_name, c.host, c.port, c.dbname, c.username, c.sslmode, c.channel_binding, c.sslrootcert,
               ARRAY(SELECT m.template_name FROM _wh.mv_templates m
                     WHERE to_regclass(format('%I.%I', t.schema_name, m.template_name)) IS NOT NULL
                        OR m.template_name = ANY (v.templates)
                     ORDER BY 1),
               coalesce(v.views, 0)::int, v.first_date, v.latest_date, t.time_zone, _wh.today_in(t.time_zone),
               t.freshness_sla, _wh.tenant_freshness_sla(t.schema_name)
        FROM _wh.tenants t
        LEFT JOIN _wh.tenant_connections c ON c.tenant_name = t.connection_name
        LEFT JOIN (SELECT d.schema_name, array_agg(DISTINCT d.template_name) AS templates,
                          count(*) AS views, min(d.day) AS first_date, max(d.day) AS latest_date
                   FROM _wh.daily_views d
                   GROUP BY 1) v ON v.schema_name = t.schema_name
        ORDER BY t.schema_name
        """;

    /// <summary>All tenants matching any of the patterns (all when none), in one query however many there are.</summary>
    public async Task<IReadOnlyList<WhTenant>> ListAsync(IReadOnlyList<NamePattern> patterns, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, ListSql);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var tenants = new List<WhTenant>();
        while (await reader.ReadAsync(cancel))
        {
            var name = reader.GetString(0);
            if (!NamePattern.AnyMatch(patterns, name)) continue;
            tenants.Add(new WhTenant
            {
                Name = name,
                ConnectionName = reader.GetString(1),
                ClientName = reader.GetString(2),
                SourceServer = reader.IsDBNull(3) ? null : reader.GetString(3),
                SourcePort = reader.IsDBNull(4) ? null : reader.GetInt32(4),
                SourceDatabase = reader.IsDBNull(5) ? null : reader.GetString(5),
                SourceUser = reader.IsDBNull(6) ? null : reader.GetString(6),
                SourceSslMode = reader.IsDBNull(7) ? null : reader.GetString(7),
                SourceChannelBinding = reader.IsDBNull(8) ? null : reader.GetString(8),
                SourceSslRootCert = reader.IsDBNull(9) ? null : reader.GetString(9),
                Templates = new ReadableList<string>(reader.GetFieldValue<string[]>(10)),
                DailyViewCount = reader.GetInt32(11),
                FirstDate = reader.IsDBNull(12) ? null : reader.GetDateTime(12),
                LatestDate = reader.IsDBNull(13) ? null : reader.GetDateTime(13),
                TimeZone = reader.IsDBNull(14) ? null : reader.GetString(14),
                Today = reader.GetDateTime(15),
                FreshnessSla = reader.IsDBNull(16) ? null : reader.GetTimeSpan(16),
                EffectiveFreshnessSla = reader.IsDBNull(17) ? null : reader.GetTimeSpan(17),
            });
        }
        return tenants;
    }

    public async Task<WhTenant?> FindAsync(string name, CancellationToken cancel) =>
        (await ListAsync([new NamePattern(name)], cancel)).FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// The steps New-WhTenant takes against the warehouse as it is, for -WhatIf: validates the request and raises every
    /// refusal <see cref="CreateAsync"/> would (an existing tenant, a connection name taken by another source, a schema
    /// whadmin cannot use), so that -WhatIf predicts them.
    /// </summary>
    public async Task<IReadOnlyList<string>> PlanCreateAsync(NewTenantRequest request, CancellationToken cancel)
    {
        Validate(request);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        return Steps(request, await ExistingAsync(db, request, cancel));
    }

    /// <summary>The steps, once what exists is known (<paramref name="existing"/>).</summary>
    public static IReadOnlyList<string> Steps(NewTenantRequest request, ExistingParts existing)
    {
        var steps = new List<string>
        {
            existing.AdoptSchema
                ? $"adopt the existing schema {request.Name} (not registered as a tenant: made by hand or by an interrupted step)"
                : $"create schema {request.Name} (whadmin owns it; phood_ro reads it, including views created later)",
            existing.SharedWith is { } others
                ? $"share connection {request.ConnectionName} ({request.SourceServer}:{request.SourcePort}/{request.SourceDatabase} as {request.SourceUser}) with {others}; its password is set to the one given"
                : existing.ConnectionExists
                    ? $"use the existing connection {request.ConnectionName} (no tenant uses it yet); its password is set to the one given"
                    : $"add connection {request.ConnectionName} → {request.SourceServer}:{request.SourcePort}/{request.SourceDatabase} as {request.SourceUser} (dblink server wh_{request.ConnectionName} with a user mapping for whadmin)",
        };
        if (request.TestConnection) steps.Insert(0, $"test the source {request.SourceServer}:{request.SourcePort}/{request.SourceDatabase} through dblink");
        var templates = request.Templates.Count == 0 ? "the default templates" : string.Join(", ", request.Templates);
        steps.Add($"create the tenant and public views of {templates}");
        return steps;
    }

    /// <summary>
    /// Adds a tenant in one transaction: connection row (server + user mapping), connection test, schema, grants,
    /// registration, tenant and public views. Any failure rolls all of it back.
    /// </summary>
    public async Task<WhTenant> CreateAsync(NewTenantRequest request, CancellationToken cancel)
    {
        Validate(request);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);

        var existing = await ExistingAsync(db, request, cancel);
        if (request.TimeZone is not null) await TenantClock.ValidateTimeZoneAsync(db, request.TimeZone, request.Name, cancel);
        if (existing.ConnectionExists)
        {
            // The same source and login (ExistingAsync checked): the password given is the login's, for every tenant on it.
            logger.LogInformation("Using connection {Connection}{Shared}", request.ConnectionName,
                existing.SharedWith is { } others ? $" (shared with {others})" : "");
            await Db.ExecuteAsync(db, "UPDATE _wh.tenant_connections SET password = @pw WHERE tenant_name = @c", cancel,
                ("c", request.ConnectionName), ("pw", request.SourcePassword));
        }
        else
        {
            logger.LogInformation("Adding connection {Connection} → {Server}:{Port}/{Database} as {User}",
                request.ConnectionName, request.SourceServer, request.SourcePort, request.SourceDatabase, request.SourceUser);
            await Db.ExecuteAsync(db,
                "INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password, sslmode, channel_binding, sslrootcert) VALUES (@c, @h, @p, @d, @u, @pw, @ssl, @cb, @ca)",
                cancel, ("c", request.ConnectionName), ("h", request.SourceServer), ("p", request.SourcePort),
                ("d", request.SourceDatabase), ("u", request.SourceUser), ("pw", request.SourcePassword), ("ssl", request.SourceSslMode),
                ("cb", request.SourceChannelBinding), ("ca", request.SourceSslRootCert));
        }
        if (existing.AdoptSchema) logger.LogInformation("Adopting the existing schema {Schema}, which no tenant registration names", request.Name);

        var templates = await KnownTemplatesAsync(db, request.Templates, cancel);
        if (request.TestConnection)
        {
            logger.LogInformation("Testing the source of {Tenant} through dblink", request.Name);
            await SourceProbe.CheckReachableAsync(db, request.ConnectionName, request.Name, cancel);
            foreach (var template in templates)
                await SourceProbe.CheckTemplateTablesAsync(db, request.ConnectionName, request.Name, template, cancel);
        }

        logger.LogInformation("Creating schema {Schema}{Zone} and the views of {Templates}", request.Name,
            request.TimeZone is null ? "" : $" (time zone {request.TimeZone})", templates.Count == 0 ? "no template" : string.Join(", ", templates));
        await Db.ExecuteAsync(db, "SELECT _wh.create_tenant(@s, @c, @n, @z, @t)", cancel,
            ("s", request.Name), ("c", request.ConnectionName), ("n", request.ClientName), ("z", request.TimeZone), ("t", templates.ToArray()));
        if (request.FreshnessSla is { } sla)
            await Db.ExecuteAsync(db, "SELECT _wh.set_tenant_freshness_sla(@s, @l)", cancel, ("s", request.Name), ("l", sla));
        await transaction.CommitAsync(cancel);
        return (await FindAsync(request.Name, cancel))!;
    }

    /// <summary>Changes a tenant's source or client name in one transaction; a new password is one ALTER USER MAPPING.</summary>
    public async Task<WhTenant> UpdateAsync(string name, TenantChanges changes, CancellationToken cancel)
    {
        var tenant = await FindAsync(name, cancel) ?? throw NotFound(name);
        // A client name is data (a literal in the views), not an identifier: any text New-WhTenant accepts.
        if (changes.ClientName is not null && string.IsNullOrWhiteSpace(changes.ClientName))
            throw new WarehouseException("InvalidClientName", WhErrorKind.InvalidArgument, "The client name is empty. Give the name BI reports should show.", name);
        if (changes.SourcePort is < 1 or > 65535)
            throw new WarehouseException("InvalidPort", WhErrorKind.InvalidArgument, $"The port {changes.SourcePort} is not a TCP port (1-65535).", changes.SourcePort);
        if (changes.SourcePassword is null && changes.MovesSource(tenant))
            throw new WarehouseException("SourcePasswordRequired", WhErrorKind.InvalidArgument,
                $"Tenant '{name}': the source moves ({changes.Describe()}) but no new password was given. The stored password is only sent to the source " +
                $"it was given for ({tenant.SourceServer}:{tenant.SourcePort}/{tenant.SourceDatabase}). Give -SourceCredential with the new source's login. Nothing was changed.",
                name);

        if (changes.FreshnessSla is { } wanted && (wanted < TimeSpan.Zero || wanted >= TimeSpan.FromDays(7)))
            throw new WarehouseException("InvalidFreshnessSla", WhErrorKind.InvalidArgument,
                $"-FreshnessSla {wanted:c} is out of range: give a duration from 00:00:00 up to 7 days (e.g. 02:00:00), how long after its day ends a tenant's day must be finished. Nothing was changed.",
                name);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        if (changes.TimeZone is { Length: > 0 } zone) await TenantClock.ValidateTimeZoneAsync(db, zone, name, cancel);
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        if (changes.TimeZone is not null)
        {
            logger.LogInformation("Setting the time zone of {Tenant} to {TimeZone}", name, changes.TimeZone.Length == 0 ? "(none)" : changes.TimeZone);
            await Db.ExecuteAsync(db, "SELECT _wh.set_tenant_time_zone(@s, @z)", cancel,
                ("s", name), ("z", changes.TimeZone.Length == 0 ? null : changes.TimeZone));
        }
        if (changes.ChangesConnectionOf(tenant))
        {
            logger.LogInformation("Changing connection {Connection}: {Changes}", tenant.ConnectionName, changes.Describe());
            await Db.ExecuteAsync(db,
                """
                UPDATE _wh.tenant_connections
                SET host = coalesce(@h, host), port = coalesce(@p, port), dbname = coalesce(@d, dbname),
                    username = coalesce(@u, username), password = @pw, sslmode = coalesce(@ssl, sslmode),
                    channel_binding = coalesce(@cb, channel_binding), sslrootcert = coalesce(@ca, sslrootcert)
                WHERE tenant_name = @c
                """,
                cancel, ("c", tenant.ConnectionName), ("h", changes.SourceServer), ("p", changes.SourcePort),
                ("d", changes.SourceDatabase), ("u", changes.SourceUser), ("pw", changes.SourcePassword), ("ssl", changes.SourceSslMode),
                ("cb", changes.SourceChannelBinding), ("ca", changes.SourceSslRootCert));
            if (changes.TestConnection)
            {
                // Through the changed server and mapping, inside this transaction: a source that refuses rolls it back.
                logger.LogInformation("Testing the changed source of {Tenant} through dblink", name);
                await SourceProbe.CheckReachableAsync(db, tenant.ConnectionName, name, cancel);
            }
        }
        if (changes.SetsFreshnessSla)
        {
            logger.LogInformation("Setting the freshness SLA of {Tenant} to {Sla}", name, changes.FreshnessSla?.ToString("c") ?? "the warehouse's");
            await Db.ExecuteAsync(db, "SELECT _wh.set_tenant_freshness_sla(@s, @l)", cancel, ("s", name),
                ("l", changes.FreshnessSla is { } sla ? sla : DBNull.Value));
        }
        if (changes.ClientName is not null)
        {
            logger.LogInformation("Renaming the client of {Tenant} to {Client}", name, changes.ClientName);
            await Db.ExecuteAsync(db, "SELECT _wh.set_client_name(@s, @c)", cancel, ("s", name), ("c", changes.ClientName));
        }
        await transaction.CommitAsync(cancel);
        return (await FindAsync(name, cancel))!;
    }

    /// <summary>Tests each tenant's source through dblink, concurrently; a failure is a result, not an exception.</summary>
    public async Task<IReadOnlyList<WhTenantConnectionTest>> TestAsync(IReadOnlyList<WhTenant> tenants, CancellationToken cancel)
    {
        // Concurrent, but at most MaxConcurrentTests at once: tenants often share a source server, and a test of 26
        // tenants at once would take 26 of its connection slots (and 26 of the warehouse's).
        using var gate = new SemaphoreSlim(MaxConcurrentTests);
        var tests = tenants.Select(async tenant =>
        {
            await gate.WaitAsync(cancel);
            var watch = Stopwatch.StartNew();
            try
            {
                await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
                await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
                var version = await SourceProbe.ServerVersionAsync(db, tenant.ConnectionName, cancel);
                return new WhTenantConnectionTest(tenant.Name, true, Math.Round(watch.Elapsed.TotalMilliseconds, 1), version, null);
            }
            catch (Exception error) when (error is not OperationCanceledException)
            {
                var translated = SourceProbe.Translate(error, tenant.Name);
                logger.LogDebug("Connection test of {Tenant} failed: {Error}", tenant.Name, translated.Message);
                return new WhTenantConnectionTest(tenant.Name, false, null, null, translated.Message);
            }
            finally
            {
                gate.Release();
            }
        });
        return await Task.WhenAll(tests);
    }

    /// <summary>Connection tests run at once (each holds one warehouse and one source connection), as a backfill's default throttle.</summary>
    public const int MaxConcurrentTests = 4;

    private static void Validate(NewTenantRequest request)
    {
        TenantName.Validate(request.Name);
        TenantName.ValidateConnection(request.ConnectionName);
        if (string.IsNullOrWhiteSpace(request.ClientName))
            throw new WarehouseException("InvalidClientName", WhErrorKind.InvalidArgument, "The client name is empty. Give -ClientName, or leave it out to use the tenant name.", request.Name);
        if (request.SourcePort is < 1 or > 65535)
            throw new WarehouseException("InvalidPort", WhErrorKind.InvalidArgument, $"The port {request.SourcePort} is not a TCP port (1-65535).", request.SourcePort);
        if (string.IsNullOrWhiteSpace(request.SourceServer) || string.IsNullOrWhiteSpace(request.SourceDatabase) || string.IsNullOrWhiteSpace(request.SourceUser))
            throw new WarehouseException("IncompleteSource", WhErrorKind.InvalidArgument,
                $"The source of tenant '{request.Name}' needs a server, a database and a user (-SourceServer, -SourceDatabase, -SourceCredential).", request.Name);
    }

    /// <summary>What of a new tenant exists already: a schema no tenant registration names (adopted), a connection of the same source (used, shared).</summary>
    public sealed record ExistingParts(bool AdoptSchema, bool ConnectionExists, string? SharedWith);

    /// <summary>
    /// What exists of the tenant to be: refuses a registered tenant, a schema whadmin cannot work in (naming the fix),
    /// and a connection name that another source already has; a schema made by hand (the guide's SQL, an interrupted
    /// step) holding nothing but this product's views is adopted, and a connection of the same source and login is
    /// used (shared when other tenants use it).
    /// </summary>
    private static async Task<ExistingParts> ExistingAsync(NpgsqlConnection db, NewTenantRequest request, CancellationToken cancel)
    {
        await using var command = Db.Command(db,
            """
            SELECT EXISTS (SELECT 1 FROM _wh.tenants WHERE schema_name = @s),
                   n.oid IS NOT NULL,
                   pg_get_userbyid(n.nspowner),
                   n.oid IS NOT NULL AND has_schema_privilege('whadmin', n.oid, 'CREATE, USAGE') AND pg_get_userbyid(n.nspowner) = 'whadmin',
                   (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c
                    WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
                      AND NOT EXISTS (SELECT 1 FROM _wh.mv_templates m
                                      WHERE c.relname IN (m.template_name, m.template_name || '_closed', m.template_name || '_recent')
                                         OR (pg_catalog.left(c.relname, -11) = m.template_name AND _wh.daily_name_day(c.relname) IS NOT NULL))),
                   k.tenant_name IS NOT NULL,
                   k.host IS NOT DISTINCT FROM @h AND k.port IS NOT DISTINCT FROM @p AND k.dbname IS NOT DISTINCT FROM @d AND k.username IS NOT DISTINCT FROM @u,
                   format('%s:%s/%s as %s', k.host, k.port, k.dbname, k.username),
                   (SELECT string_agg(t.schema_name, ', ' ORDER BY t.schema_name) FROM _wh.tenants t WHERE t.connection_name = @c)
            FROM (SELECT 1) one
            LEFT JOIN pg_namespace n ON n.nspname = @s
            LEFT JOIN _wh.tenant_connections k ON k.tenant_name = @c
            """,
            ("s", request.Name), ("c", request.ConnectionName), ("h", request.SourceServer), ("p", request.SourcePort),
            ("d", request.SourceDatabase), ("u", request.SourceUser));
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        var registered = reader.GetBoolean(0);
        var schemaExists = reader.GetBoolean(1);
        var owner = reader.IsDBNull(2) ? null : reader.GetString(2);
        var usable = reader.GetBoolean(3);
        var foreign = reader.IsDBNull(4) ? null : reader.GetString(4);
        var connectionExists = reader.GetBoolean(5);
        var sameSource = !reader.IsDBNull(6) && reader.GetBoolean(6);
        var otherSource = reader.IsDBNull(7) ? null : reader.GetString(7);
        var sharedWith = reader.IsDBNull(8) ? null : reader.GetString(8);

        if (registered)
            throw new WarehouseException("TenantExists", WhErrorKind.ResourceExists,
                $"A tenant named '{request.Name}' already exists. Choose another -Name, or change it with Set-WhTenant.", request.Name);
        if (schemaExists && foreign is not null)
            throw new WarehouseException("TenantExists", WhErrorKind.ResourceExists,
                $"A schema named '{request.Name}' exists and holds relations that are not this product's ({Shorten(foreign)}): it is not a tenant to adopt. Choose another -Name.", request.Name);
        if (schemaExists && !usable)
            throw new WarehouseException("SchemaNotWhadmins", WhErrorKind.PermissionDenied,
                $"A schema named '{request.Name}' exists (made by hand, owned by {owner}) and is not a registered tenant; whadmin must own it to make it one " +
                $"(and, later, to remove it). As {owner} or the admin: ALTER SCHEMA \"{request.Name}\" OWNER TO whadmin; then run New-WhTenant again. Nothing was changed.",
                request.Name);
        if (connectionExists && !sameSource)
            throw new WarehouseException("ConnectionExists", WhErrorKind.ResourceExists,
                $"A connection named '{request.ConnectionName}' already exists for another source ({otherSource}). To share it (two tenants on one source), " +
                "give the same -SourceServer, -SourcePort, -SourceDatabase and login; otherwise choose another -ConnectionName. Nothing was changed.",
                request.ConnectionName);
        return new ExistingParts(schemaExists, connectionExists, sharedWith);
    }

    private static string Shorten(string list) => list.Length <= 120 ? list : list[..117] + "...";

    /// <summary>The templates asked for (each must exist), or every template of the warehouse when none is asked for.</summary>
    private static async Task<IReadOnlyList<string>> KnownTemplatesAsync(NpgsqlConnection db, IReadOnlyList<string> templates, CancellationToken cancel)
    {
        if (templates.Count == 0)
        {
            var all = new List<string>();
            // Without -Template: the templates marked default (Set-WhTemplate -Default), not every template: one made for
            // a single tenant would otherwise be asked of every new tenant's source.
            await using var command = Db.Command(db, "SELECT template_name FROM _wh.mv_templates WHERE is_default ORDER BY 1");
            await using var reader = await command.ExecuteReaderAsync(cancel);
            while (await reader.ReadAsync(cancel)) all.Add(reader.GetString(0));
            return all;
        }
        (await DailyViews.DayPlanner.PlanAsync(db, [], templates, null, null, cancel)).EnsureTemplates();
        return templates.Distinct().ToList();
    }

    public static WarehouseException NotFound(string name) =>
        new("TenantNotFound", WhErrorKind.ObjectNotFound,
            $"There is no tenant named '{name}'. Get-WhTenant lists the tenants; New-WhTenant adds one.", name);
}
