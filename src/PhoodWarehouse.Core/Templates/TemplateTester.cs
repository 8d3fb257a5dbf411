using System.Text.RegularExpressions;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Templates;

/// <summary>
/// What to test: a stored template (<see cref="Name"/> only) or an unsaved one (<see cref="Query"/> and
/// <see cref="Columns"/>, optionally <see cref="Indexes"/>), against one tenant's source for one day.
/// </summary>
public sealed record TemplateTestRequest
{
    public required string Name { get; init; }
    public required string Tenant { get; init; }
    /// <summary>The day to render {TARGET_DATE} with; null: today on the tenant's clock (<c>_wh.tenant_today</c>).</summary>
    public DateOnly? Date { get; init; }
    public string? Query { get; init; }
    public string? Columns { get; init; }
    public string? Indexes { get; init; }
}

/// <summary>
/// Tests a template against a tenant's source without creating anything, and reports rather than throws:
/// placeholders, column list, the query at the source (LIMIT 0 through dblink: planned and started there, no row
/// fetched), the result column types, and the day's values computed at the source (counted there, none fetched). The types come from the source itself: in one dblink call (one remote
/// session, closed at once) the query becomes a TEMP VIEW on the remote and its columns are read from
/// <c>pg_attribute</c>; the temporary view dies with that session, so nothing is left behind. (PREPARE +
/// <c>pg_prepared_statements.result_types</c> would avoid the TEMP privilege, but that column only exists from
/// PostgreSQL 16 and the sources run 15.) It needs TEMP on the source database, which PUBLIC has by default.
/// Types are compared without modifiers (numeric(10,3) = numeric) and exactly: varchar is not text.
/// </summary>
public sealed partial class TemplateTester(WhConnection connection, ILogger logger)
{
    private static readonly string[] KnownPlaceholders = ["TARGET_DATE", "SCHEMA", "VIEW_NAME"];

    public async Task<WhTemplateTest> TestAsync(TemplateTestRequest request, CancellationToken cancel)
    {
        Tenants.TenantName.Validate(request.Tenant);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        // The tenant, its connection and its today, and the stored template (an unsaved one need not exist): the plan's.
        var plan = await DayPlanner.PlanAsync(db, [request.Tenant], request.Query is null ? [request.Name] : [], request.Date, request.Date, cancel);
        plan.EnsureTemplates();
        var connectionName = plan[request.Tenant].ConnectionName;
        var date = request.Date ?? plan[request.Tenant].Today;
        string query, columns;
        string? indexes;
        if (request.Query is null)
        {
            var stored = await Db.ReadAllAsync(db, "SELECT query_template, column_definitions, indexes FROM _wh.mv_templates WHERE template_name = @n",
                r => (Query: r.GetString(0), Columns: r.GetString(1), Indexes: r.IsDBNull(2) ? null : r.GetString(2)), cancel, ("n", request.Name));
            if (stored.Count == 0) throw TemplateStore.NotFound(request.Name);
            (query, columns, indexes) = stored[0];
        }
        else
        {
            (query, columns, indexes) = (request.Query, request.Columns ?? "", request.Indexes);
        }

        var problems = new List<string>();
        var unknown = Placeholder().Matches(query + " " + indexes).Select(m => m.Groups[1].Value)
            .Where(p => !KnownPlaceholders.Contains(p)).Distinct().ToList();
        foreach (var p in unknown) problems.Add($"unknown placeholder {{{p}}} (known: {{TARGET_DATE}}, {{SCHEMA}}, {{VIEW_NAME}})");
        if (!query.Contains("{TARGET_DATE}", StringComparison.Ordinal))
            problems.Add("the query has no {TARGET_DATE}: every daily view would hold the same rows");

        // The column list and index statements, parsed by the same functions the trigger uses.
        var declared = await TryAsync(db, problems, "column list", async () =>
        {
            await using var command = Db.Command(db,
                "SELECT format('%I %s', column_name, data_type), format_type(to_regtype(data_type), NULL) FROM _wh.parse_column_definitions(@c) ORDER BY ordinal",
                ("c", columns));
            return await Db.ReadAllAsync(command, r => (Definition: r.GetString(0), BaseType: r.GetString(1)), cancel);
        });
        await TryAsync(db, problems, "indexes", () => Db.ExecuteAsync(db, "SELECT count(*) FROM _wh.parse_index_definitions(@i)", cancel, ("i", indexes)));

        // One statement, by the same rule the template table's trigger applies, before anything reaches the source: the
        // probes below wrap the query in parentheses and in a read-write transaction of their own there.
        var oneStatement = await TryAsync(db, problems, "the query", async () =>
        {
            await Db.ExecuteAsync(db, "SELECT _wh.assert_single_select(@q, 'the query')", cancel, ("q", query));
            return true;
        });

        var queryRuns = false;
        string[] sourceTypes = [];
        string? rendered = null, server = null;
        if (unknown.Count == 0 && oneStatement)
        {
            rendered = await Db.ScalarAsync<string>(db, "SELECT _wh.render_template_text(@q, @s, @v, @d)", cancel,
                ("q", query), ("s", request.Tenant), ("v", DailyViewName.For(request.Name, date)), ("d", date));
            rendered = rendered!.TrimEnd().TrimEnd(';').TrimEnd();
            server = await Db.ScalarAsync<string>(db, "SELECT _wh.get_tenant_connection_string(@c)", cancel, ("c", connectionName));
            logger.LogInformation("Running the query of {Template} at the source of {Tenant} for {Date:yyyy-MM-dd} (LIMIT 0)", request.Name, request.Tenant, date);
            queryRuns = await TryAsync(db, problems, "the query at the source", async () =>
            {
                await RemoteAsync<long>(db, "SELECT n FROM public.dblink(@srv, @sql) AS t(n bigint)", server!,
                    $"SELECT count(*) FROM (SELECT * FROM (\n{rendered}\n) wh_query LIMIT 0) wh_none", cancel);
                return true;
            });
            if (queryRuns)
            {
                // The source session is read-only (the server's options): the probe defines a temporary view, which
                // never runs the query, in an explicit read-write transaction that ends unfinished with dblink's session.
                var types = await TryAsync(db, problems, "the result types at the source", () => RemoteAsync<string>(db,
                    "SELECT types FROM public.dblink(@srv, @sql) AS t(types text)", server!,
                    $"BEGIN READ WRITE;\nCREATE TEMP VIEW wh_template_probe AS\n{rendered}\n;\nSELECT string_agg(format_type(a.atttypid, NULL), '|' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = 'pg_temp.wh_template_probe'::regclass AND a.attnum > 0",
                    cancel));
                sourceTypes = string.IsNullOrEmpty(types) ? [] : types.Split('|');
                if (sourceTypes.Length == 0)
                    problems.Add("could not read the result column types at the source");
            }
        }

        var columnsMatch = false;
        if (declared is not null && queryRuns && sourceTypes.Length > 0)
        {
            columnsMatch = true;
            if (sourceTypes.Length != declared.Count)
            {
                columnsMatch = false;
                problems.Add($"the query returns {sourceTypes.Length} columns, the column list declares {declared.Count}: they must match in number and order");
            }
            for (var i = 0; i < Math.Min(sourceTypes.Length, declared.Count); i++)
            {
                if (string.Equals(sourceTypes[i], declared[i].BaseType, StringComparison.Ordinal)) continue;
                columnsMatch = false;
                problems.Add($"column {i + 1} ({declared[i].Definition}): the source returns {sourceTypes[i]}; cast it in the query (::{declared[i].BaseType}) or declare {sourceTypes[i]}");
            }
        }

        if (declared is not null && queryRuns && sourceTypes.Length == declared.Count)
            queryRuns = await ValuesComputeAsync(db, problems, server!, rendered!, declared.Select(d => d.Definition).ToList(), date, cancel);

        return new WhTemplateTest
        {
            Template = request.Name,
            Tenant = request.Tenant,
            Date = date.ToDateTime(TimeOnly.MinValue),
            PlaceholdersKnown = unknown.Count == 0,
            ColumnsParse = declared is not null,
            QueryRuns = queryRuns,
            ColumnsMatch = columnsMatch,
            DeclaredColumns = declared?.Select(d => d.Definition).ToList() ?? [],
            SourceColumnTypes = sourceTypes,
            Problems = new ReadableList<string>(problems),
        };
    }

    /// <summary>
    /// Computes every value of the day's rows at the source (counted there, none fetched): a source column whose type
    /// drifted under a cast in the query (numeric text that now carries a unit, say) fails only here, not at LIMIT 0.
    /// On a failure each column is computed alone (the other outputs of the subquery are not evaluated), so the
    /// problem names the column that fails. False when the rows do not compute.
    /// </summary>
    private async Task<bool> ValuesComputeAsync(NpgsqlConnection db, List<string> problems, string server, string rendered,
        IReadOnlyList<string> columns, DateOnly date, CancellationToken cancel)
    {
        var names = string.Join(", ", columns.Select((_, i) => $"c{i + 1}"));
        async Task<string?> FailureAsync(string counted)
        {
            try
            {
                await RemoteAsync<long>(db, "SELECT n FROM public.dblink(@srv, @sql) AS t(n bigint)", server,
                    $"SELECT count({counted}) FROM (\n{rendered}\n) AS wh_row({names})", cancel);
                return null;
            }
            catch (PostgresException error) when (error.SqlState is not "57014")
            {
                return error.MessageText;
            }
        }

        var failure = await FailureAsync("wh_row");
        if (failure is null) return true;
        var failing = new List<string>();
        for (var i = 0; i < columns.Count; i++)
            if (await FailureAsync($"wh_row.c{i + 1}") is { } columnFailure)
                failing.Add($"column {i + 1} ({columns[i]}): its values of {date:yyyy-MM-dd} do not compute at the source: {columnFailure}");
        // None alone, or all alike (a query whose outputs are all computed anyway: DISTINCT, GROUP BY, UNION): the rows.
        if (failing.Count == 0 || (failing.Count == columns.Count && columns.Count > 1))
            problems.Add($"the rows of {date:yyyy-MM-dd} at the source: {failure}");
        else
            problems.AddRange(failing);
        return false;
    }

    /// <summary>One dblink call as whadmin (whose user mapping holds the source credentials), in a transaction that is rolled back.</summary>
    private async Task<T?> RemoteAsync<T>(NpgsqlConnection db, string sql, string server, string remoteSql, CancellationToken cancel)
    {
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        var value = await Db.ScalarAsync<T>(db, sql, cancel, ("srv", server), ("sql", remoteSql));
        await transaction.RollbackAsync(cancel);
        return value;
    }

    /// <summary>Runs a check; a database error becomes a listed problem (the report is the answer, not an exception).</summary>
    private static async Task<T?> TryAsync<T>(NpgsqlConnection db, List<string> problems, string what, Func<Task<T>> check)
    {
        try
        {
            return await check();
        }
        catch (PostgresException error) when (error.SqlState is not "57014")
        {
            problems.Add($"{what}: {error.MessageText}");
            return default;
        }
    }

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();
}
