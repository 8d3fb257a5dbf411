namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Hostile text in every text argument of the _wh functions and in every template field: each call fails with a clear
/// error and the catalog (and the _wh tables) stay exactly as they were. Values that are legitimately free text (client
/// names, logged errors) are stored verbatim instead.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class InjectionTests(PostgresServer server)
{
    private static readonly Once<(SharedWarehouse Env, string Schema)> Shared = new();

    private Task<(SharedWarehouse Env, string Schema)> EnvAsync() => Shared.Get(async () =>
    {
        var env = await SharedWarehouse.CreateAsync(server, days: 3, rowsPerDay: 4);
        var schema = PostgresServer.UniqueName("inj");
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE - 1)", env.Connection, schema);
        return (env, schema);
    });

    private static readonly string[] Hostile =
    [
        "x'; DROP TABLE _wh.tenant_connections; --",
        "x\"; DROP SCHEMA public CASCADE; --",
        "foodlogstats; DROP TABLE _wh.run_log",
        "Robert'); DELETE FROM _wh.tenants; --",
        "a\\'; SELECT pg_sleep(10); --",
        "UPPER_Case",
        "",
    ];

    // What each kind of argument is refused with (SQLSTATE), as the _wh functions raise it.
    private static readonly string[] BadTemplate = ["22023"];        // invalid_parameter_value: not a template name
    private static readonly string[] UnknownConnection = ["42704"];  // undefined_object: no such tenant connection
    private static readonly string[] UnknownTenant = ["42704"];      // undefined_object: no such tenant
    private static readonly string[] BadSchema = ["3F000"];          // invalid_schema_name
    private static readonly string[] ReservedSchema = ["42939"];     // reserved_name: _wh, public, cron, pg_*
    private static readonly string[] NameTooLong = ["42622"];        // name_too_long
    // A create function's name is read as a regprocedure: invalid_name, invalid_text_representation or undefined_function.
    private static readonly string[] BadFunction = ["42602", "22P02", "42883"];
    // ... and a name that is not even a name (a second statement, stray parentheses) also as a syntax error of that name.
    private static readonly string[] UnparsableFunction = ["42602", "22P02", "42883", "42601"];

    [Fact]
    public async Task Hostile_names_in_every_text_argument_fail_clearly_and_change_nothing()
    {
        var (env, schema) = await EnvAsync();
        var c = env.Connection;
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database));
        var calls = new List<(string Sql, Func<string, object?[]> Args, string[] Expected)>
        {
            ("SELECT _wh.get_tenant_connection_string($1)", h => [h], UnknownConnection),
            ("SELECT _wh.update_mv_by_template($1, $2, $3, CURRENT_DATE - 1)", h => [h, c, schema], BadTemplate),
            ("SELECT _wh.update_mv_by_template($1, $2, $3, CURRENT_DATE - 1)", h => ["foodlogstats", h, schema], UnknownConnection),
            ("SELECT _wh.update_mv_by_template($1, $2, $3, CURRENT_DATE - 1)", h => ["foodlogstats", c, h], BadSchema),
            ("SELECT _wh.create_mv_from_template($1, $2, $3, CURRENT_DATE)", h => [h, c, schema], BadTemplate),
            ("SELECT _wh.create_mv_from_template($1, $2, $3, CURRENT_DATE)", h => ["foodlogstats", h, schema], UnknownConnection),
            ("SELECT _wh.create_mv_from_template($1, $2, $3, CURRENT_DATE)", h => ["foodlogstats", c, h], BadSchema),
            ("SELECT _wh.update_mv_window_by_template($1, $2, $3, CURRENT_DATE - 2, CURRENT_DATE)", h => [h, c, schema], BadTemplate),
            ("SELECT _wh.update_mv_window_by_template($1, $2, $3, CURRENT_DATE - 2, CURRENT_DATE)", h => ["foodlogstats", h, schema], UnknownConnection),
            ("SELECT _wh.update_mv_window_by_template($1, $2, $3, CURRENT_DATE - 2, CURRENT_DATE)", h => ["foodlogstats", c, h], BadSchema),
            ("CALL _wh.run_mv_window_by_template($1, $2, $3, CURRENT_DATE - 2, CURRENT_DATE)", h => [h, c, schema], BadTemplate),
            ("CALL _wh.run_mv_window_by_template($1, $2, $3, CURRENT_DATE - 2, CURRENT_DATE)", h => ["foodlogstats", c, h], BadSchema),
            ("SELECT _wh.update_tenant_union_view_by_template($1, $2, $3)", h => [h, c, schema], BadTemplate),
            ("SELECT _wh.update_tenant_union_view_by_template($1, $2, $3)", h => ["foodlogstats", h, schema], UnknownConnection),
            ("SELECT _wh.update_tenant_union_view_by_template($1, $2, $3)", h => ["foodlogstats", c, h], BadSchema),
            ("SELECT _wh.update_public_view_by_template($1)", h => [h], BadTemplate),
            ("SELECT * FROM _wh.template_columns($1)", h => [h], BadTemplate),
            ("SELECT _wh.remove_tenant($1)", h => [h], BadSchema),
            ("SELECT _wh.set_client_name($1, 'ok')", h => [h], UnknownTenant),
            ("SELECT _wh.create_foodlogstats_mv($1, $2, $3, CURRENT_DATE)", h => [h, schema, "foodlogstats"], UnknownConnection),
            ("SELECT _wh.create_foodlogstats_mv($1, $2, $3, CURRENT_DATE)", h => [c, h, "foodlogstats"], BadSchema),
            ("SELECT _wh.create_foodlogstats_mv($1, $2, $3, CURRENT_DATE)", h => [c, schema, h], BadTemplate),
            ("SELECT _wh.update_foodlogstats($1, $2, CURRENT_DATE)", h => [h, schema], UnknownConnection),
            ("SELECT _wh.update_foodlogstats($1, $2, CURRENT_DATE)", h => [c, h], BadSchema),
            ("SELECT _wh.update_mv_core($1, $2, CURRENT_DATE, $3, $4)", h => [h, schema, "foodlogstats", "_wh.create_foodlogstats_mv"], UnknownConnection),
            ("SELECT _wh.update_mv_core($1, $2, CURRENT_DATE, $3, $4)", h => [c, h, "foodlogstats", "_wh.create_foodlogstats_mv"], BadSchema),
            ("SELECT _wh.update_mv_core($1, $2, CURRENT_DATE, $3, $4)", h => [c, schema, h, "_wh.create_foodlogstats_mv"], BadTemplate),
            ("SELECT _wh.update_mv_core($1, $2, CURRENT_DATE, $3, $4)", h => [c, schema, "foodlogstats", h], BadFunction),
            ("SELECT _wh.update_mv_window($1, $2, CURRENT_DATE - 1, CURRENT_DATE)", h => [h, schema], UnknownConnection),
            ("SELECT _wh.update_mv_window($1, $2, CURRENT_DATE - 1, CURRENT_DATE)", h => [c, h], BadSchema),
            ("SELECT _wh.update_mv_window($1, $2, CURRENT_DATE - 1, CURRENT_DATE, $3)", h => [c, schema, h], BadFunction),
            ("SELECT _wh.update_tenant_view($1, $2, $3)", h => [h, schema, "foodlogstats"], UnknownConnection),
            ("SELECT _wh.update_tenant_view($1, $2, $3)", h => [c, h, "foodlogstats"], BadSchema),
            ("SELECT _wh.update_tenant_view($1, $2, $3)", h => [c, schema, h], BadTemplate),
            ("SELECT _wh.create_mv_name($1, CURRENT_DATE)", h => [h + new string('x', 60)], NameTooLong),
        };
        // Function names that resolve to something real but of the wrong shape, or smuggle a second statement.
        var functionNames = new[]
        {
            "_wh.create_foodlogstats_mv(text,text,text,date,text); DROP TABLE _wh.run_log; --",
            "pg_catalog.pg_terminate_backend", "public.dblink_exec", "_wh.remove_tenant", "_wh.update_foodlogstats)(",
        };

        var failures = 0;
        // Reserved schemas are refused wherever a tenant schema is expected.
        var reserved = new[] { "_wh", "public", "cron", "pg_catalog", "pg_toast", "information_schema" };
        // A schema that could not be a tenant's is refused as reserved; set_client_name's tenant is simply unknown.
        foreach (var (sql, args, expected) in calls.Where(call => IsSchemaArgument(call.Sql, call.Args("\u0001"))))
            foreach (var name in reserved)
                await wh.FailsAsync(sql, expected == BadSchema ? ReservedSchema : expected, args(name));
        foreach (var (sql, args, expected) in calls)
            foreach (var hostile in Hostile)
            {
                var error = await wh.FailsAsync(sql, expected, args(hostile));
                Assert.DoesNotContain("syntax error", error.MessageText);
                failures++;
            }
        foreach (var name in functionNames)
        {
            await wh.FailsAsync("SELECT _wh.update_mv_core($1, $2, CURRENT_DATE, 'foodlogstats', $3)", UnparsableFunction, c, schema, name);
            await wh.FailsAsync("SELECT _wh.update_mv_window($1, $2, CURRENT_DATE - 1, CURRENT_DATE, $3)", UnparsableFunction, c, schema, name);
        }
        // Dates given as text go through the date type: anything else is refused before the function runs.
        foreach (var date in new[] { "2024-01-01'; DROP TABLE _wh.run_log; --", "2024-01-01 ; SELECT 1", "today'--" })
            await wh.FailsAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, $3::text::date)", ["22007", "22008"], c, schema, date);

        Assert.Equal(calls.Count * Hostile.Length, failures);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database)));
        // create_mv_name only builds a name (it runs nothing): the name it returns is inert text.
        Assert.Equal("a'b\"; DROP_2024_01_15", await wh.ScalarAsync<string>("SELECT _wh.create_mv_name($1, '2024-01-15')", "a'b\"; DROP"));
    }

    /// <summary>True when the marked argument is the tenant schema (the argument named target_schema).</summary>
    private static bool IsSchemaArgument(string sql, object?[] args)
    {
        var position = Array.IndexOf(args, "\u0001");
        var function = sql.Split('(')[0].Split('.').Last().Trim();
        var schemaPosition = function switch
        {
            "update_mv_by_template" or "create_mv_from_template" or "update_mv_window_by_template" or "run_mv_window_by_template"
                or "update_tenant_union_view_by_template" => 2,
            "remove_tenant" or "set_client_name" => 0,
            "get_tenant_connection_string" or "update_public_view_by_template" or "template_columns" => -1,
            _ => 1,
        };
        return position == schemaPosition;
    }

    [Fact]
    public async Task Hostile_template_fields_are_rejected_and_change_nothing()
    {
        var (env, _) = await EnvAsync();
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database));
        const string Query = "SELECT id FROM phood_foodlogsum WHERE logged_time::date = '{TARGET_DATE}'";
        const string Insert = "INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes) VALUES ($1, 'd', $2, $3, $4)";
        var attempts = new (string Name, string Query, string Columns, string? Indexes)[]
        {
            ("evil'; DROP TABLE _wh.run_log; --", Query, "id bigint", null),
            ("Evil", Query, "id bigint", null),
            ("evil", Query + " {EVIL}", "id bigint", null),
            ("evil", Query, "id bigint) AS t; DROP TABLE _wh.tenants; --", null),
            ("evil", Query, "id bigint, name text); DROP TABLE _wh.tenants", null),
            ("evil", Query, "id bigint -- comment", null),
            ("evil", Query, "id bigint /* x */", null),
            ("evil", Query, "id pg_catalog.nosuchtype", null),
            ("evil", Query, "id bigint,, name text", null),
            ("evil", Query, "id bigint", "CREATE INDEX ON {SCHEMA}.{VIEW_NAME} (id); DROP TABLE _wh.run_log"),
            ("evil", Query, "id bigint", "CREATE INDEX ON _wh.run_log (id)"),
            ("evil", Query, "id bigint", "DROP INDEX whatever"),
            ("evil", Query, "id bigint", "CREATE INDEX ON {SCHEMA}.{VIEW_NAME} (id) {HACK}"),
        };
        // Refused by the template checks (invalid_parameter_value), or, for a type that does not exist, by PostgreSQL
        // itself (undefined_object) when the checks read the column list.
        foreach (var (name, query, columns, indexes) in attempts)
            await wh.FailsAsync(Insert, columns.Contains("nosuchtype") ? ["42704"] : ["22023"], name, query, columns, indexes);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Database)));
    }

    [Fact]
    public async Task Free_text_values_and_quoted_column_names_are_stored_verbatim_not_executed()
    {
        var (env, schema) = await EnvAsync();
        await using var wh = await SqlKit.OpenAsync(server, env.Database, "whadmin");
        const string Client = "O'Brien\"; DROP TABLE _wh.tenants; --";
        var other = PostgresServer.UniqueName("inj_client");

        Assert.True(await wh.ScalarAsync<bool>(
            "SELECT _wh.create_mv_from_template('foodlogstats', $1, $2, CURRENT_DATE - 2, $3)", env.Connection, other, Client));
        Assert.Equal(Client, await wh.ScalarAsync<string>(
            $"SELECT DISTINCT client FROM {other}.{SqlKit.ViewName("foodlogstats", SqlKit.Today(server).AddDays(-2))}"));
        await wh.ExecAsync("SELECT _wh.set_client_name($1, $2)", schema, Client + " 2");
        Assert.Equal(Client + " 2", await wh.ScalarAsync<string>($"SELECT DISTINCT client FROM {schema}.foodlogstats"));

        const string Error = "boom'); DROP TABLE _wh.run_log; --";
        var id = await wh.ScalarAsync<long>("SELECT _wh.log_failure('foodlogstats', $1, $2, CURRENT_DATE, $3)", env.Connection, schema, Error);
        Assert.Equal(Error, await wh.ScalarAsync<string>("SELECT error FROM _wh.run_log WHERE id = $1", id));

        // A quoted column name full of SQL is just a column name (quoted with %I wherever it is used).
        const string Column = "x); DROP TABLE _wh.tenants; --";
        var template = PostgresServer.UniqueName("quoted");
        await wh.ExecAsync(
            "INSERT INTO _wh.mv_templates (template_name, query_template, column_definitions, indexes) VALUES ($1, $2, $3, $4)",
            template, "SELECT id FROM phood_foodlogsum WHERE logged_time >= '{TARGET_DATE}'::date AND logged_time < '{TARGET_DATE}'::date + 1",
            $"\"{Column}\" bigint", null);
        Assert.Equal("created", await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_by_template($1, $2, $3, CURRENT_DATE - 1)->>'action'", template, env.Connection, schema));
        Assert.Equal(4L, await wh.ScalarAsync<long>($"SELECT count(\"{Column.Replace("\"", "\"\"")}\") FROM public.{template}"));
        Assert.Equal(2L, await wh.ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE schemaname = '_wh' AND tablename IN ('tenants', 'run_log')"));
    }
}
