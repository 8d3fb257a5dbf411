namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// Issue 27, item 9: a source day whose rows repeat a key the template declares unique (foodlogstats: UNIQUE (id)) gets
/// one rule, whatever the kind of day: it is refused with the same error naming the day, the key and the template, and
/// nothing of it is kept. Before, a closed day loaded into &lt;template&gt;_closed kept both rows (that table has no
/// unique index) while yesterday's materialized view failed on its unique index.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class DuplicateKeyTests(PostgresServer server)
{
    private const int Rows = 20;

    [Fact]
    public async Task A_repeated_unique_key_is_refused_alike_for_a_closed_day_yesterday_and_today_and_loads_once_the_source_is_fixed()
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        // Every closed day goes into foodlogstats_closed once that table exists.
        await wh.ExecAsync("UPDATE _wh.warehouse_info SET value = '0' WHERE key = 'compact_after_days'");
        var today = await wh.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)");
        var source = await server.CreateTenantSourceAsync(days: 6, rowsPerDay: Rows, firstDay: today.AddDays(-5));
        const string template = "foodlogstats", connection = "dup_conn", schema = "dup_tenant";
        await wh.AddConnectionAsync(connection, source);
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template($1, $2, $3, $4, $5)", template, connection, schema, today.AddDays(-5), today.AddDays(-3));
        await wh.ExecAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4)", template, connection, schema, today);
        Assert.Equal("v", await KindAsync(wh, schema, today.AddDays(-3)));
        Assert.Equal("m", await KindAsync(wh, schema, today));
        var todayBefore = await RowFingerprint.OfWarehouseAsync(wh, template, $"{schema}.{SqlKit.ViewName(template, today)}");

        // The source repeats one row of day -2 (closed, new), of yesterday (a new materialized view) and of today (refreshed).
        var repeated = new Dictionary<int, long>();
        await using (var src = await SqlKit.OpenAsync(server, source.Database))
        {
            foreach (var offset in new[] { -2, -1, 0 })
            {
                repeated[offset] = await src.ScalarAsync<long>(
                    "SELECT id FROM phood_foodlogsum WHERE logged_time >= $1 AND logged_time < $2 ORDER BY id OFFSET 5 LIMIT 1",
                    today.AddDays(offset).ToDateTime(TimeOnly.MinValue), today.AddDays(offset + 1).ToDateTime(TimeOnly.MinValue));
            }
            await src.ExecAsync(
                $"""
                ALTER TABLE phood_foodlogsum RENAME TO foodlog_data;
                CREATE VIEW phood_foodlogsum AS
                  SELECT * FROM foodlog_data UNION ALL SELECT * FROM foodlog_data WHERE id IN ({string.Join(", ", repeated.Values)});
                GRANT SELECT ON phood_foodlogsum TO "{source.ReaderUser}";
                """);
        }

        // psql: one error, the same words for the three kinds of day, naming the day, the key and its value, the template.
        foreach (var offset in new[] { -2, -1, 0 })
        {
            var day = today.AddDays(offset);
            var error = await wh.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4)", ["23505"], template, connection, schema, day);
            Assert.Equal($"{schema}.{SqlKit.ViewName(template, day)}: day {day:yyyy-MM-dd} has more than one row with the key (id)=({repeated[offset]}) " +
                         $"at the source, and template {template} declares that key unique", error.MessageText);
            Assert.Contains("Set-WhTemplate foodlogstats -Indexes", error.Hint);
        }
        Assert.Null(await KindAsync(wh, schema, today.AddDays(-2)));
        Assert.Null(await KindAsync(wh, schema, today.AddDays(-1)));
        Assert.Equal(0L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {schema}.foodlogstats_closed WHERE _wh_day = $1", today.AddDays(-2)));
        Assert.Equal(0L, await wh.ScalarAsync<long>("SELECT count(*) FROM _wh.day_state WHERE schema_name = $1 AND day IN ($2, $3)",
            schema, today.AddDays(-2), today.AddDays(-1)));
        Assert.Equal(todayBefore, await RowFingerprint.OfWarehouseAsync(wh, template, $"{schema}.{SqlKit.ViewName(template, today)}"));

        // The module's backfill reports the same error for each day.
        using var whConnection = await WarehouseConnector.ConnectAsync(
            new ConnectionRequest { ConnectionString = server.ConnectionString(database, "whadmin") }, NullLogger.Instance, default);
        var request = new BackfillRequest { Tenants = [schema], Templates = [template], From = today.AddDays(-2), To = today, ThrottleLimit = 1 };
        var failed = await BackfillAsync(whConnection, request);
        Assert.Equal(3, failed.Count);
        Assert.All(failed, r =>
        {
            Assert.Equal(MvAction.Failed, r.Action);
            Assert.Contains($"has more than one row with the key (id)=({repeated[DateOnly.FromDateTime(r.Date).DayNumber - today.DayNumber]}) at the source", r.Error);
        });

        // The source fixed: the same backfill loads the three days, each equal to its source.
        await SlowSource.RestoreAsync(server.ConnectionString(source.Database));
        var loaded = await BackfillAsync(whConnection, request);
        Assert.Equal([MvAction.Created, MvAction.Created, MvAction.Refreshed], loaded.OrderBy(r => r.Date).Select(r => r.Action));
        await using var reader = await SqlKit.OpenAsync(server, source.Database);
        foreach (var offset in new[] { -2, -1, 0 })
        {
            var day = today.AddDays(offset);
            Assert.Equal(await RowFingerprint.OfSourceAsync(wh, reader, template, schema, day, day),
                await RowFingerprint.OfWarehouseAsync(wh, template, $"{schema}.{SqlKit.ViewName(template, day)}"));
        }
    }

    [Fact]
    public async Task The_unique_keys_of_a_template_are_read_from_its_index_definitions()
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await wh.ExecAsync(
            """
            INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
            VALUES ('keyed', 'keys', 'SELECT 1::bigint AS id, 2::bigint AS b, ''x''::text AS c',
                    'id bigint, b bigint, c text',
                    'CREATE UNIQUE INDEX ON {SCHEMA}.{VIEW_NAME} USING btree (id DESC NULLS LAST, b);
                     CREATE INDEX ON {SCHEMA}.{VIEW_NAME} (c);
                     CREATE UNIQUE INDEX ON {SCHEMA}.{VIEW_NAME} (lower(c)) INCLUDE (b) WHERE b > 0;')
            """);
        var keys = await wh.ScalarAsync<string>(
            "SELECT string_agg(key_list || ' | ' || coalesce(key_condition, '-'), '; ') FROM _wh.template_unique_keys('keyed')");
        Assert.Equal("id, b | -; lower(c) | b > 0", keys);
    }

    private static Task<string?> KindAsync(NpgsqlConnection wh, string schema, DateOnly day) =>
        wh.ScalarAsync<string?>("SELECT _wh.daily_relkind($1, $2)::text", schema, SqlKit.ViewName("foodlogstats", day));

    private static async Task<List<WhMvResult>> BackfillAsync(WhConnection connection, BackfillRequest request)
    {
        var runner = new BackfillRunner(connection, NullLogger.Instance);
        var results = new List<WhMvResult>();
        await foreach (var result in runner.RunAsync(await runner.PlanAsync(request, default), default)) results.Add(result);
        return results;
    }
}
