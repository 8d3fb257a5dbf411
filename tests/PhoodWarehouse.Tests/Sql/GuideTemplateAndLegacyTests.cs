namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// "Adding a New Template" with the guide's inventory_stats example (file loaded with psql \i as whadmin) and
/// "Adding a New Type of DataTable/MV (Legacy)" with its functions pasted verbatim, against a source that has the
/// tables those examples read; plus the remaining functions of the API (template_columns, create_mv_from_template's
/// NOTICE, create_foodlogstats_mv, update_mv_core for foodlogstats).
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class GuideTemplateAndLegacyTests(PostgresServer server) : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("phood-tpl-").FullName;
    public void Dispose() => Directory.Delete(work, recursive: true);

    private static readonly DateOnly Jan15 = new(2024, 1, 15);


    private const string LegacyCreateFunction =
        """
        CREATE OR REPLACE FUNCTION _wh.create_inventory_stats_mv(
            tenant_connection_name text,
            target_schema text,
            base_view_name text,
            target_date date,
            client_name text DEFAULT NULL::text
        )
         RETURNS boolean
         LANGUAGE plpgsql
        AS $function$
          DECLARE
              connection_string TEXT;
              remote_query TEXT;
              view_name TEXT;
              full_mv_name TEXT;
              client_override TEXT;
              create_sql TEXT;
              context JSONB;
          BEGIN
              -- Follow same pattern as create_foodlogstats_mv
              view_name := _wh.create_mv_name(base_view_name, target_date);
              connection_string := _wh.get_tenant_connection_string(tenant_connection_name);
              full_mv_name := target_schema || '.' || view_name;
              client_override := COALESCE(client_name, target_schema);

              -- Define your specific remote query
              remote_query := format($remote$
                  SELECT
                      i.id,
                      i.name,
                      i.quantity_on_hand,
                      i.cost_per_unit,
                      l.name as location,
                      '%s' as client,
                      i.updated_at
                  FROM inventory_items i
                  LEFT JOIN locations l ON i.location_id = l.id
                  WHERE i.updated_at::DATE = '%s'::DATE
              $remote$, client_override, target_date);

              -- Create MV with explicit column definitions
              create_sql := format($create$
                  CREATE MATERIALIZED VIEW %I.%I AS
                  SELECT * FROM dblink(%L, %L)
                  AS t(
                      id INTEGER,
                      name TEXT,
                      quantity_on_hand NUMERIC,
                      cost_per_unit NUMERIC,
                      location TEXT,
                      client TEXT,
                      updated_at TIMESTAMP
                  )
              $create$, target_schema, view_name, connection_string, remote_query);

              EXECUTE create_sql;

              -- Create indexes
              EXECUTE format('CREATE UNIQUE INDEX ON %I.%I (id)', target_schema, view_name);
              EXECUTE format('CREATE INDEX ON %I.%I (updated_at)', target_schema, view_name);
              EXECUTE format('CREATE INDEX ON %I.%I (client)', target_schema, view_name);
              EXECUTE format('CREATE INDEX ON %I.%I (location)', target_schema, view_name);

              RETURN TRUE;
          EXCEPTION
              WHEN OTHERS THEN
                  RETURN FALSE;
          END;
          $function$
        ;
        """;

    private const string LegacyWrapperFunction =
        """
        CREATE OR REPLACE FUNCTION _wh.update_inventory_stats(
            tenant_connection_name text,
            target_schema text,
            target_date date,
            allow_refresh_yesterday boolean DEFAULT true
        )
         RETURNS jsonb
         LANGUAGE plpgsql
        AS $function$
          BEGIN
              RETURN _wh.update_mv_core(
                  tenant_connection_name,
                  target_schema,
                  target_date,
                  'inventory_stats',
                  '_wh.create_inventory_stats_mv',
                  allow_refresh_yesterday
              );
          END;
          $function$
        ;
        """;

    /// <summary>A source with the tables of the guide's inventory examples: movements and items on three January days and today.</summary>
    private async Task<(string Database, string Reader)> CreateInventorySourceAsync()
    {
        var database = PostgresServer.UniqueName("inv");
        var reader = database + "_reader";
        await using (var admin = await SqlKit.OpenAsync(server, "postgres"))
        {
            await admin.ExecAsync($"CREATE DATABASE {database}");
            await admin.ExecAsync($"CREATE ROLE {reader} LOGIN PASSWORD '{PostgresServer.SourceReaderPassword.Replace("'", "''")}'");
        }
        await using var db = await SqlKit.OpenAsync(server, database);
        await db.ExecAsync(
            $"""
             CREATE TABLE locations (id integer PRIMARY KEY, name text NOT NULL);
             CREATE TABLE inventory_movements (id integer PRIMARY KEY, location_id integer, item_name text, current_stock integer,
                                               movement_type text, quantity_change integer, "timestamp" timestamp NOT NULL);
             CREATE TABLE inventory_items (id integer PRIMARY KEY, name text, quantity_on_hand numeric, cost_per_unit numeric,
                                           location_id integer, updated_at timestamp NOT NULL);
             INSERT INTO locations VALUES (1, 'Main Kitchen'), (2, 'Bakery');
             INSERT INTO inventory_movements
             SELECT g, 1 + g % 2, 'item ' || g, 100 - g, 'out', -g, d + make_interval(mins => g)
             FROM (VALUES ('2024-01-14'::timestamp, 0), ('2024-01-15', 100), ('2024-01-16', 200), (CURRENT_DATE::timestamp, 300)) AS v(d, base),
                  LATERAL generate_series(base + 1, base + 5 + base / 100) AS g;
             INSERT INTO inventory_items
             SELECT g, 'item ' || g, g * 2, 1.5, CASE WHEN g % 3 = 0 THEN NULL ELSE 1 END, d + make_interval(mins => g)
             FROM (VALUES ('2024-01-01'::timestamp, 0), ('2024-01-02', 100), ('2024-01-31', 200), (CURRENT_DATE::timestamp, 300)) AS v(d, base),
                  LATERAL generate_series(base + 1, base + 2 + base / 100) AS g;
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};
             """);
        return (database, reader);
    }

    private async Task<long> SourceCountAsync(string database, string sql)
    {
        await using var db = await SqlKit.OpenAsync(server, database);
        return await db.ScalarAsync<long>(sql);
    }

    private async Task<(string Warehouse, string Source)> WarehouseWithConnectionAsync(string connectionName)
    {
        var warehouse = await server.CreateWarehouseAsync();
        var (source, reader) = await CreateInventorySourceAsync();
        await using var wh = await SqlKit.OpenAsync(server, warehouse, "whadmin");
        await wh.ExecAsync("INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES ($1, $2, $3, $4, $5, $6)",
            connectionName, server.Host, server.Port, source, reader, PostgresServer.SourceReaderPassword);
        return (warehouse, source);
    }

    [Fact]
    public async Task Adding_the_guides_inventory_stats_template_steps_1_to_4()
    {
        var (warehouse, source) = await WarehouseWithConnectionAsync("tenant_a");
        var passwords = new Dictionary<string, string> { ["whadmin"] = PostgresServer.WhadminPassword };
        Directory.CreateDirectory(Path.Combine(work, "sql"));
        await File.WriteAllTextAsync(Path.Combine(work, "sql", "template-inventory_stats.sql"), GuideExamples.InventoryStatsTemplate + ";\n");

        // Step 2: load it as whadmin with psql.
        (await SqlKit.PsqlAsync(server, work, warehouse, "whadmin", @"\i sql/template-inventory_stats.sql", passwords)).AssertSucceeded();

        // Step 3, as written.
        await using var wh = await SqlKit.OpenAsync(server, warehouse, "whadmin");
        var notices = new List<string>();
        wh.Notice += (_, e) => notices.Add(e.Notice.MessageText);
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.create_mv_from_template('inventory_stats', 'tenant_a', 'reports', CURRENT_DATE)"));
        Assert.False(await wh.ScalarAsync<bool>("SELECT _wh.create_mv_from_template('inventory_stats', 'tenant_a', 'reports', CURRENT_DATE)"));
        Assert.Contains(notices, n => n.Contains("already exists"));
        Assert.Equal("reports.inventory_stats", await wh.ScalarAsync<string>(
            "SELECT _wh.update_tenant_union_view_by_template('inventory_stats', 'tenant_a', 'reports')"));
        Assert.Equal("public.inventory_stats", await wh.ScalarAsync<string>("SELECT _wh.update_public_view_by_template('inventory_stats')"));

        // Two more days through the one code path; the guide's index names (too long, colliding) are replaced by unique ones.
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('inventory_stats', 'tenant_a', 'reports', '2024-01-15', '2024-01-16')");
        foreach (var day in new[] { SqlKit.Today(server), Jan15, Jan15.AddDays(1) })
        {
            var expected = await SourceCountAsync(source, $"SELECT count(*) FROM inventory_movements WHERE \"timestamp\"::date = '{day:yyyy-MM-dd}'");
            Assert.True(expected > 0);
            Assert.Equal(expected, await wh.ScalarAsync<long>($"SELECT count(*) FROM reports.{SqlKit.ViewName("inventory_stats", day)}"));
            Assert.Equal(3L, await wh.ScalarAsync<long>(
                "SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass", $"reports.{SqlKit.ViewName("inventory_stats", day)}"));
        }
        var total = await SourceCountAsync(source,
            $"SELECT count(*) FROM inventory_movements WHERE \"timestamp\"::date IN ('2024-01-15', '2024-01-16', CURRENT_DATE)");
        await using var ro = await SqlKit.OpenAsync(server, warehouse, "phood_ro");
        Assert.Equal(total, await ro.ScalarAsync<long>("SELECT count(*) FROM reports.inventory_stats"));
        Assert.Equal(total, await ro.ScalarAsync<long>("SELECT count(*) FROM public.inventory_stats WHERE client = 'reports'"));
        Assert.Equal("Main Kitchen", await ro.ScalarAsync<string>("SELECT location FROM reports.inventory_stats WHERE id = 102"));

        // Any template can be checked against its source (issue 13): the guide's days match; a corrected stock does not.
        const string check = "SELECT string_agg(status, ',' ORDER BY day) FROM _wh.check_mv_window_by_template('inventory_stats', 'tenant_a', 'reports', '2024-01-14', '2024-01-16')";
        Assert.Equal("Missing,Match,Match", await wh.ScalarAsync<string>(check));
        await using (var src = await SqlKit.OpenAsync(server, source))
            await src.ExecAsync("UPDATE inventory_movements SET current_stock = current_stock + 1 WHERE id = 102");
        Assert.Equal("Missing,Changed,Match", await wh.ScalarAsync<string>(check));

        // Step 4 as whadmin.
        Assert.Equal(2, (await wh.RowsAsync("SELECT template_name, description, created_at FROM _wh.mv_templates")).Count);
        Assert.Single(await wh.RowsAsync("SELECT * FROM _wh.mv_templates WHERE template_name = 'inventory_stats'"));
        // "Re-running updates safely" needs the ON CONFLICT clause template-foodlogstats.sql has; the guide's example lacks it.
        var rerun = await SqlKit.PsqlAsync(server, work, warehouse, "whadmin", @"\i sql/template-inventory_stats.sql", passwords);
        Assert.NotEqual(0, rerun.ExitCode);
        Assert.Contains("duplicate key", rerun.Errors);
        await File.WriteAllTextAsync(Path.Combine(work, "sql", "template-inventory_stats.sql"),
            GuideExamples.InventoryStatsTemplate.Replace("with movement tracking", "with movement tracking (v2)") +
            "\nON CONFLICT (template_name) DO UPDATE SET description = EXCLUDED.description, query_template = EXCLUDED.query_template,\n" +
            "    column_definitions = EXCLUDED.column_definitions, indexes = EXCLUDED.indexes;\n");
        (await SqlKit.PsqlAsync(server, work, warehouse, "whadmin", @"\i sql/template-inventory_stats.sql", passwords)).AssertSucceeded();
        Assert.EndsWith("(v2)", await wh.ScalarAsync<string>("SELECT description FROM _wh.mv_templates WHERE template_name = 'inventory_stats'"));
    }

    [Fact]
    public async Task Adding_a_legacy_type_with_the_guides_functions_pasted_verbatim()
    {
        var (warehouse, source) = await WarehouseWithConnectionAsync("tenant_connection_name");
        await using var wh = await SqlKit.OpenAsync(server, warehouse, "whadmin");
        await wh.ExecAsync(LegacyCreateFunction);
        await wh.ExecAsync(LegacyWrapperFunction);

        // Step 3, as written.
        var today = await wh.ScalarAsync<string>(
            "SELECT _wh.update_inventory_stats('tenant_connection_name', 'tenant_schema', CURRENT_DATE)->>'action'");
        Assert.Equal("created", today);
        var window = await wh.ScalarAsync<string>(
            """
            SELECT _wh.update_mv_window('tenant_connection_name', 'tenant_schema', '2024-01-01'::date, '2024-01-31'::date,
                                        '_wh.update_inventory_stats')::text
            """);
        Assert.Contains("\"created\": 31", window);
        Assert.Contains("\"failed\": 0", window);
        Assert.Equal("tenant_schema.inventory_stats", await wh.ScalarAsync<string>(
            "SELECT _wh.update_tenant_view('tenant_connection_name', 'tenant_schema', 'inventory_stats')"));

        var expected = await SourceCountAsync(source,
            "SELECT count(*) FROM inventory_items WHERE updated_at::date BETWEEN '2024-01-01' AND '2024-01-31' OR updated_at::date = CURRENT_DATE");
        await using var ro = await SqlKit.OpenAsync(server, warehouse, "phood_ro");
        Assert.Equal(expected, await ro.ScalarAsync<long>("SELECT count(*) FROM tenant_schema.inventory_stats"));
        Assert.Equal(2L, await ro.ScalarAsync<long>("SELECT count(*) FROM tenant_schema.inventory_stats_2024_01_01"));
        Assert.Equal("tenant_schema", await ro.ScalarAsync<string>("SELECT DISTINCT client FROM tenant_schema.inventory_stats"));
        Assert.Equal("refreshed", await wh.ScalarAsync<string>(
            "SELECT _wh.update_inventory_stats('tenant_connection_name', 'tenant_schema', CURRENT_DATE)->>'action'"));
        Assert.Equal("skipped", await wh.ScalarAsync<string>(
            "SELECT _wh.update_inventory_stats('tenant_connection_name', 'tenant_schema', '2024-01-02')->>'action'"));

        // The guide's EXCEPTION WHEN OTHERS THEN RETURN FALSE no longer hides a failure: update_mv_core raises, with a hint.
        await wh.ExecAsync("INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES ('broken', $1, $2, 'no_such_db', 'nobody', 'x')",
            server.Host, server.Port);
        var error = await wh.FailsAsync("SELECT _wh.update_inventory_stats('broken', 'broken_schema', CURRENT_DATE)");
        Assert.Contains("returned false", error.MessageText);
        Assert.Contains("EXCEPTION WHEN OTHERS", error.Hint);
    }

    [Fact]
    public async Task The_remaining_api_template_columns_create_foodlogstats_mv_update_mv_core_and_create_mv_name()
    {
        var warehouse = await server.CreateWarehouseAsync();
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 6);
        await using var wh = await SqlKit.OpenAsync(server, warehouse, "whadmin");
        await wh.AddConnectionAsync("conn_api", source);

        Assert.Equal("foodlogstats_2024_01_15", await wh.ScalarAsync<string>("SELECT _wh.create_mv_name('foodlogstats', '2024-01-15'::date)"));
        await wh.FailsAsync("SELECT _wh.create_mv_name(repeat('x', 60), '2024-01-15')", ["42622"]);
        Assert.Equal(new[]
            {
                "1 id bigint", "2 logged_time timestamp without time zone", "3 location text", "4 station text", "5 food_name text",
                "6 waste_reason text", "7 meal_period text", "8 weight numeric", "9 cost numeric", "10 client text",
            },
            await wh.ColumnAsync("SELECT ordinal || ' ' || column_name || ' ' || data_type FROM _wh.template_columns('foodlogstats') ORDER BY ordinal"));

        var d2 = SqlKit.Today(server).AddDays(-2);
        Assert.True(await wh.ScalarAsync<bool>("SELECT _wh.create_foodlogstats_mv('conn_api', 'api', 'foodlogstats', $1)", d2));
        Assert.False(await wh.ScalarAsync<bool>("SELECT _wh.create_foodlogstats_mv('conn_api', 'api', 'foodlogstats', $1)", d2));
        Assert.Equal("skipped", await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_core('conn_api', 'api', $1, 'foodlogstats', '_wh.create_foodlogstats_mv')->>'action'", d2));
        Assert.Equal("created", await wh.ScalarAsync<string>(
            "SELECT _wh.update_mv_core('conn_api', 'api', CURRENT_DATE, 'foodlogstats', '_wh.create_foodlogstats_mv')->>'action'"));
        Assert.Equal("created", await wh.ScalarAsync<string>("SELECT _wh.update_foodlogstats('conn_api', 'api', CURRENT_DATE - 1)->>'action'"));
        await wh.ExecAsync("SELECT _wh.update_tenant_view('conn_api', 'api', 'foodlogstats')");
        Assert.Equal(await SqlKit.SourceRowsAsync(server, source, d2, SqlKit.Today(server)), await wh.ScalarAsync<long>("SELECT count(*) FROM api.foodlogstats"));
        Assert.Equal(18L, await wh.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats"));
    }
}
