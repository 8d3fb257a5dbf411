using System.Text.RegularExpressions;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Templates;

/// <summary>What a template file did (or would do, dry run): the templates it added or changed.</summary>
public sealed record TemplateFileOutcome(IReadOnlyList<string> Added, IReadOnlyList<string> Updated);

/// <summary>What Remove-WhTemplate will drop.</summary>
public sealed record TemplateRemovalPlan(string Template, IReadOnlyList<WhMv> DailyViews, IReadOnlyList<string> UnionViews);

/// <summary>
/// Templates (<c>_wh.mv_templates</c>): list, upsert, load from a <c>template-*.sql</c> file, remove. The table's
/// trigger validates every row (name, placeholders, columns, indexes); its errors come back as <c>InvalidTemplate</c>.
/// </summary>
public sealed partial class TemplateStore(WhConnection connection, ILogger logger)
{
    private const string ListSql =
        """
        SELECT m.template_name, m.description, m.query_template,
               ARRAY(SELECT format('%I %s', c.column_name, c.data_type) FROM _wh.parse_column_definitions(m.column_definitions) c ORDER BY c.ordinal),
               coalesce(m.indexes, ''), m.created_at, m.updated_at,
               coalesce(v.views, 0)::int, m.is_default
        FROM _wh.mv_templates m
        LEFT JOIN (SELECT d.template_name, count(*) AS views FROM _wh.daily_views d GROUP BY 1) v ON v.template_name = m.template_name
        WHERE @names::text[] IS NULL OR m.template_name = ANY (@names)
        ORDER BY 1
        """;

    public async Task<IReadOnlyList<WhTemplate>> ListAsync(IReadOnlyList<NamePattern> patterns, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, ListSql, ("names", DailyViewCatalog.ExactNames(patterns)));
        command.Parameters["names"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        var all = await Db.ReadAllAsync(command, TemplateFrom, cancel);
        return all.Where(t => NamePattern.AnyMatch(patterns, t.Name)).ToList();
    }

    public async Task<WhTemplate?> FindAsync(string name, CancellationToken cancel) =>
        (await ListAsync([new NamePattern(name)], cancel)).FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// Refuses a definition that does not fit <paramref name="tenant"/>'s source (Set-WhTemplate -Tenant), before anything
    /// is saved: Test-WhTemplate's checks of the definition as it would be stored (the given parts over the stored ones).
    /// </summary>
    public async Task EnsureFitsSourceAsync(TemplateDefinition definition, string tenant, CancellationToken cancel)
    {
        var stored = await FindAsync(definition.Name, cancel);
        var test = await new TemplateTester(connection, logger).TestAsync(new TemplateTestRequest
        {
            Name = definition.Name,
            Tenant = tenant,
            Query = definition.Query ?? stored?.QueryTemplate,
            Columns = definition.Columns ?? (stored is null ? null : string.Join(",\n", stored.Columns)),
            Indexes = definition.Indexes ?? (stored is null ? null : string.Join(";\n", stored.Indexes)),
        }, cancel);
        if (!test.Success)
            throw new WarehouseException("TemplateDoesNotFitSource", WhErrorKind.InvalidArgument,
                $"Template '{definition.Name}' does not fit the source of tenant '{tenant}': {string.Join("; ", test.Problems)}. " +
                "Fix the query or the column list; nothing was saved.", definition.Name);
    }

    /// <summary>True when a template of that name exists (for -WhatIf messages).</summary>
    public async Task<bool> ExistsAsync(string name, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        return await Db.ScalarAsync<bool>(db, "SELECT EXISTS (SELECT 1 FROM _wh.mv_templates WHERE template_name = @n)", cancel, ("n", name));
    }

    /// <summary>
    /// Adds (INSERT … ON CONFLICT DO UPDATE) or changes (UPDATE) a template in one statement; fields left null keep their
    /// stored value. Existing daily views keep their definition until they are re-created (Update-WhMv -Force).
    /// </summary>
    public async Task<WhTemplate> SetAsync(TemplateDefinition definition, bool commit, CancellationToken cancel)
    {
        Tenants.TenantName.ValidateTemplate(definition.Name);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        db.Notice += OnNotice;
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        var exists = await Db.ScalarAsync<bool>(db, "SELECT EXISTS (SELECT 1 FROM _wh.mv_templates WHERE template_name = @n)", cancel, ("n", definition.Name));
        if (!exists && (string.IsNullOrWhiteSpace(definition.Query) || string.IsNullOrWhiteSpace(definition.Columns)))
            throw new WarehouseException("InvalidTemplate", WhErrorKind.InvalidArgument,
                $"Template '{definition.Name}' does not exist yet: a new template needs -Query and -Columns.", definition.Name);
        try
        {
            // An existing template is updated field by field (NOT NULL is checked on the proposed row before
            // ON CONFLICT, so a partial INSERT … ON CONFLICT would fail); a new one is an upsert.
            await Db.ExecuteAsync(db, exists
                ? """
                  UPDATE _wh.mv_templates m
                  SET description = coalesce(@d, m.description),
                      is_default = coalesce(@def, m.is_default),
                      query_template = coalesce(@q, m.query_template),
                      column_definitions = coalesce(@c, m.column_definitions),
                      indexes = CASE WHEN @i::text IS NULL THEN m.indexes ELSE nullif(@i, '') END
                  WHERE m.template_name = @n
                  """
                : """
                  INSERT INTO _wh.mv_templates AS m (template_name, description, query_template, column_definitions, indexes, is_default)
                  VALUES (@n, @d, @q, @c, nullif(@i, ''), coalesce(@def, false))
                  ON CONFLICT (template_name) DO UPDATE
                  SET description = EXCLUDED.description, query_template = EXCLUDED.query_template,
                      column_definitions = EXCLUDED.column_definitions, indexes = EXCLUDED.indexes, is_default = EXCLUDED.is_default
                  """, cancel,
                ("n", definition.Name), ("d", definition.Description), ("q", definition.Query), ("c", definition.Columns), ("i", definition.Indexes),
                ("def", definition.Default));
        }
        catch (PostgresException error)
        {
            throw Invalid(definition.Name, error);
        }
        var template = await ReadAsync(db, definition.Name, cancel);
        if (commit) await transaction.CommitAsync(cancel);
        else await transaction.RollbackAsync(cancel);
        logger.LogInformation("{Action} template {Name}", exists ? "Updated" : "Added", definition.Name);
        return template;
    }

    /// <summary>
    /// Runs a template file (the same file psql's <c>\i</c> runs: one source of truth) as whadmin in one transaction.
    /// A plain INSERT of a template that exists (the guide's example has no ON CONFLICT) is turned into an update:
    /// the row is set aside, the file runs again, and the template keeps its created_at. With
    /// <paramref name="commit"/> false everything is rolled back (dry run for -WhatIf). The file must add or change
    /// at least one template; psql meta-commands (<c>\c</c>, <c>\i</c>) are not supported.
    /// </summary>
    public async Task<TemplateFileOutcome> ApplyFileAsync(string path, bool commit, CancellationToken cancel)
    {
        string sql;
        try
        {
            sql = await File.ReadAllTextAsync(path, cancel);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new WarehouseException("TemplateFileUnreadable", WhErrorKind.ObjectNotFound, $"Cannot read '{path}': {error.Message}", path, error);
        }
        if (MetaCommand().Match(sql) is { Success: true } meta)
            throw new WarehouseException("InvalidTemplate", WhErrorKind.InvalidArgument,
                $"'{path}' holds the psql meta-command '{meta.Value.Trim()}': only SQL can be run from the module. Remove it, or run the file with psql.", path);

        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        db.Notice += OnNotice;
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        var before = new Dictionary<string, (DateTime Created, bool Default)>();
        await using (var command = Db.Command(db, "SELECT template_name, created_at, is_default FROM _wh.mv_templates"))
            foreach (var (name, created, isDefault) in await Db.ReadAllAsync(command, r => (r.GetString(0), r.GetDateTime(1), r.GetBoolean(2)), cancel))
                before[name] = (created, isDefault);

        var setAside = new List<string>();
        for (var attempt = 0; ; attempt++)
        {
            await transaction.SaveAsync("template_file", cancel);
            try
            {
                await Db.ExecuteAsync(db, sql, cancel);
                break;
            }
            catch (PostgresException error) when (error.SqlState == "23505" && error.ConstraintName == "mv_templates_pkey"
                                                  && KeyOf(error.Detail) is { } name && attempt < 100)
            {
                // A plain INSERT of an existing template: set the old row aside and run the file again.
                await transaction.RollbackAsync("template_file", cancel);
                logger.LogInformation("Template {Name} exists: the file's INSERT updates it", name);
                await Db.ExecuteAsync(db, "DELETE FROM _wh.day_state WHERE template_name = @n", cancel, ("n", name));
            await Db.ExecuteAsync(db, "DELETE FROM _wh.mv_templates WHERE template_name = @n", cancel, ("n", name));
                setAside.Add(name);
            }
            catch (PostgresException error)
            {
                throw Invalid(Path.GetFileName(path), error);
            }
        }
        // Rows set aside come back with their original created_at (the trigger keeps created_at on UPDATE only,
        // so the new row is deleted and inserted again with the old timestamp), and stay default when they were.
        foreach (var name in setAside)
        {
            if (!await Db.ScalarAsync<bool>(db, "SELECT EXISTS (SELECT 1 FROM _wh.mv_templates WHERE template_name = @n)", cancel, ("n", name)))
                throw new WarehouseException("InvalidTemplate", WhErrorKind.InvalidArgument,
                    $"'{path}' failed on template '{name}' and did not insert it again.", path);
            await Db.ExecuteAsync(db,
                """
                WITH gone AS (DELETE FROM _wh.mv_templates WHERE template_name = @n RETURNING *)
                INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes, created_at, is_default)
                SELECT template_name, description, query_template, column_definitions, indexes, @c, is_default OR @def FROM gone
                """, cancel, ("n", name), ("c", before[name].Created), ("def", before[name].Default));
        }
        var touched = new List<string>();
        await using (var command = Db.Command(db, "SELECT template_name FROM _wh.mv_templates WHERE updated_at = now() ORDER BY 1"))
            touched.AddRange(await Db.ReadAllAsync(command, r => r.GetString(0), cancel));
        if (touched.Count == 0)
            throw new WarehouseException("InvalidTemplate", WhErrorKind.InvalidArgument,
                $"'{path}' ran but added or changed no template. A template file inserts into _wh.mv_templates (see sql/template-foodlogstats.sql).", path);
        if (commit) await transaction.CommitAsync(cancel);
        else await transaction.RollbackAsync(cancel);
        return new TemplateFileOutcome(touched.Where(t => !before.ContainsKey(t)).ToList(), touched.Where(before.ContainsKey).ToList());
    }

    /// <summary>What removing a template drops; throws TemplateNotFound, or TemplateInUse while daily views exist and not forced.</summary>
    public async Task<TemplateRemovalPlan> PlanRemoveAsync(string name, bool force, CancellationToken cancel)
    {
        if (!await ExistsAsync(name, cancel)) throw NotFound(name);
        var views = await new DailyViewCatalog(connection, logger).ListAsync(new DailyViewQuery { Templates = [new NamePattern(name)] }, cancel);
        // Only registered tenants' views are listed by the catalog; count any schema's too, so nothing is missed.
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var unions = new List<string>();
        await using (var command = Db.Command(db,
            """
            SELECT format('%I.%I', n.nspname, c.relname), n.nspname = 'public'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'v' AND c.relname = @n AND (n.nspname = 'public' OR n.nspname IN (SELECT schema_name FROM _wh.tenants))
            ORDER BY 2 DESC, 1
            """, ("n", name)))
            unions.AddRange(await Db.ReadAllAsync(command, r => r.GetString(0), cancel));
        if (views.Count > 0 && !force)
            throw new WarehouseException("TemplateInUse", WhErrorKind.InvalidArgument,
                $"Template '{name}' still has {views.Count} daily views in {views.Select(v => v.Tenant).Distinct().Count()} tenant(s). " +
                $"Remove them first (Get-WhMv -Template {name} | Remove-WhMv), or use -Force to drop them with the template.", name);
        return new TemplateRemovalPlan(name, views, unions);
    }

    /// <summary>
    /// Removes a template with the SQL layer's procedure (<c>_wh.remove_template</c>, psql's too): the public view first
    /// (it reads the tenant views), then each tenant's part in its own transaction (its tenant view, its daily views,
    /// each drop logged 'dropped', the tables the tenant view read), then the template row once no daily view of it is
    /// left. An interrupted run is finished by running it again.
    /// </summary>
    public async Task RemoveAsync(string name, bool force, CancellationToken cancel)
    {
        await PlanRemoveAsync(name, force, cancel);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        logger.LogInformation("Removing template {Template}: the public view, then each tenant's views and tables", name);
        try
        {
            // A CALL that commits as it goes: outside any transaction of ours, with whadmin's names pinned by the procedure's own qualification.
            await Db.ExecuteAsync(db, "CALL _wh.remove_template(@n, true)", cancel, ("n", name));
        }
        catch (PostgresException error) when (error.SqlState == "2BP01")
        {
            throw new WarehouseException("TemplateInUse", WhErrorKind.InvalidArgument,
                $"{error.MessageText}. {error.Hint}", name, error);
        }
        logger.LogInformation("Removed template {Template}", name);
    }

    public static WarehouseException NotFound(string name) =>
        new("TemplateNotFound", WhErrorKind.ObjectNotFound,
            $"There is no template named '{name}'. Get-WhTemplate lists them; Set-WhTemplate adds one.", name);

    /// <summary>One row of <see cref="ListSql"/>.</summary>
    private static WhTemplate TemplateFrom(NpgsqlDataReader r) => new()
    {
        Name = r.GetString(0),
        Description = r.IsDBNull(1) ? null : r.GetString(1),
        QueryTemplate = r.GetString(2),
        Columns = new ReadableList<string>(r.GetFieldValue<string[]>(3)),
        Indexes = new ReadableList<string>(SplitIndexes(r.GetString(4))),
        CreatedAt = r.IsDBNull(5) ? null : r.GetDateTime(5).ToLocalTime(),
        UpdatedAt = r.IsDBNull(6) ? null : r.GetDateTime(6).ToLocalTime(),
        DailyViewCount = r.GetInt32(7),
        Default = r.GetBoolean(8),
    };

    private async Task<WhTemplate> ReadAsync(NpgsqlConnection db, string name, CancellationToken cancel)
    {
        await using var command = Db.Command(db, ListSql, ("names", new[] { name }));
        return (await Db.ReadAllAsync(command, TemplateFrom, cancel)).Single();
    }

    private void OnNotice(object sender, NpgsqlNoticeEventArgs e)
    {
        if (e.Notice.Severity is "WARNING") logger.LogWarning("{Message}", e.Notice.MessageText);
        else logger.LogDebug("{Message}", e.Notice.MessageText);
    }

    internal static IReadOnlyList<string> SplitIndexes(string indexes) =>
        indexes.Split(';').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    private static string? KeyOf(string? detail) =>
        detail is null ? null : KeyDetail().Match(detail) is { Success: true } m ? m.Groups[1].Value : null;

    private static WarehouseException Invalid(string what, PostgresException error)
    {
        var message = error.MessageText + (string.IsNullOrEmpty(error.Hint) ? "" : " " + error.Hint);
        return error.SqlState is "42501" or "57014" || error.SqlState.StartsWith("08", StringComparison.Ordinal)
            ? DatabaseErrors.Translate(error, what)
            : new WarehouseException("InvalidTemplate", WhErrorKind.InvalidArgument, $"Template {what} was refused: {message} (SQLSTATE {error.SqlState})", what, error);
    }

    [GeneratedRegex(@"^Key \(template_name\)=\((.+)\) already exists\.$")]
    private static partial Regex KeyDetail();

    [GeneratedRegex(@"^\s*\\[a-zA-Z!]+.*$", RegexOptions.Multiline)]
    private static partial Regex MetaCommand();
}
