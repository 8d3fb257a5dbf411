namespace PhoodWarehouse.Core.Local;

/// <summary>
/// Creates a tenant's own (source) database following design/tenant-source-schema.sql, filled with realistic,
/// deterministic food-waste data (some NULL locations and costs), readable by a read-only login.
/// </summary>
public static class SampleTenantSource
{
    /// <summary>The contract every tenant database meets (design/tenant-source-schema.sql).</summary>
    public const string SchemaSql =
        """
        CREATE TABLE locations (
            id    integer PRIMARY KEY,
            name  text    NOT NULL
        );
        CREATE TABLE phood_foodlogsum (
            id            bigint         PRIMARY KEY,
            logged_time   timestamp      NOT NULL,
            location_id   integer        REFERENCES locations (id),
            station       text,
            food_name     text,
            waste_reason  text,
            meal_period   text,
            weight        numeric(10, 3) NOT NULL,
            cost          numeric(10, 2)
        );
        CREATE INDEX ON phood_foodlogsum (logged_time);
        """;

    private const string FillSql =
        """
        INSERT INTO locations (id, name)
        SELECT g, (ARRAY['Main Kitchen','North Cafe','South Cafe','Catering','Bakery','Food Court','Staff Canteen','Rooftop Bar'])[g]
        FROM generate_series(1, 8) AS g;

        INSERT INTO phood_foodlogsum (id, logged_time, location_id, station, food_name, waste_reason, meal_period, weight, cost)
        SELECT r.id,
               r.logged_time,
               CASE WHEN r.h % 20 = 0 THEN NULL ELSE 1 + (r.h / 20) % 8 END,
               (ARRAY['grill','salad bar','fryer','bakery','deli','pizza','sushi'])[1 + (r.h / 160) % 7],
               (ARRAY['chicken breast','rice','pasta','salad mix','bread roll','french fries','salmon','soup','pizza slice','fruit cup','beef patty','tofu'])[1 + (r.h / 1120) % 12],
               (ARRAY['overproduction','spoilage','plate waste','trim waste','expired','dropped'])[1 + (r.h / 13440) % 6],
               CASE WHEN extract(hour FROM r.logged_time) < 10 THEN 'breakfast'
                    WHEN extract(hour FROM r.logged_time) < 15 THEN 'lunch'
                    WHEN extract(hour FROM r.logged_time) < 21 THEN 'dinner'
                    ELSE 'late night' END,
               round(0.050 + ((r.h / 80640) % 5000) / 1000.0, 3),
               CASE WHEN (r.h / 7) % 10 = 0 THEN NULL
                    ELSE round((0.050 + ((r.h / 80640) % 5000) / 1000.0) * (2 + (r.h / 11) % 9), 2) END
        FROM (
            SELECT d::bigint * @rows + i AS id,
                   @first::timestamp + make_interval(days => d) + make_interval(secs => floor(i * 86399.0 / (@rows + 1))) AS logged_time,
                   abs(hashint8(d::bigint * @rows + i + @seed::bigint * 1000003)::bigint) AS h
            FROM generate_series(0, @days - 1) AS d, generate_series(1, @rows) AS i
        ) AS r;
        ANALYZE;
        """;

    public static async Task CreateAsync(string superuserConnectionString, SampleTenantSourceSpec spec, CancellationToken cancel = default)
    {
        await using (var admin = new NpgsqlConnection(superuserConnectionString))
        {
            await admin.OpenAsync(cancel);
            await ExecuteFormattedAsync(admin, "DROP DATABASE IF EXISTS %I WITH (FORCE)", cancel, spec.Database);
            await ExecuteFormattedAsync(admin, "CREATE DATABASE %I", cancel, spec.Database);
            await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = @u)", admin);
            exists.Parameters.AddWithValue("u", spec.ReaderUser);
            if (!(bool)(await exists.ExecuteScalarAsync(cancel))!)
                await ExecuteFormattedAsync(admin, "CREATE ROLE %I LOGIN", cancel, spec.ReaderUser);
            await ExecuteFormattedAsync(admin, "ALTER ROLE %I LOGIN PASSWORD %L", cancel, spec.ReaderUser, spec.ReaderPassword);
            await ExecuteFormattedAsync(admin, "GRANT CONNECT ON DATABASE %I TO %I", cancel, spec.Database, spec.ReaderUser);
        }

        var builder = new NpgsqlConnectionStringBuilder(superuserConnectionString) { Database = spec.Database, Pooling = false };
        await using var source = new NpgsqlConnection(builder.ConnectionString);
        await source.OpenAsync(cancel);
        await using (var schema = new NpgsqlCommand(SchemaSql, source)) await schema.ExecuteNonQueryAsync(cancel);
        await using (var fill = new NpgsqlCommand(FillSql, source) { CommandTimeout = 0 })
        {
            fill.Parameters.AddWithValue("rows", spec.RowsPerDay);
            fill.Parameters.AddWithValue("days", spec.Days);
            fill.Parameters.AddWithValue("first", spec.FirstDay);
            fill.Parameters.AddWithValue("seed", spec.Seed);
            await fill.ExecuteNonQueryAsync(cancel);
        }
        await ExecuteFormattedAsync(source, "GRANT USAGE ON SCHEMA public TO %I", cancel, spec.ReaderUser);
        await ExecuteFormattedAsync(source, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I", cancel, spec.ReaderUser);
    }

    /// <summary>Builds the statement with PostgreSQL's own format() (%I, %L), then runs it: no hand-made quoting.</summary>
    private static async Task ExecuteFormattedAsync(NpgsqlConnection connection, string template, CancellationToken cancel, params string[] values)
    {
        var placeholders = string.Join(", ", values.Select((_, i) => $"@p{i}"));
        await using var format = new NpgsqlCommand($"SELECT format(@template, {placeholders})", connection);
        format.Parameters.AddWithValue("template", template);
        for (var i = 0; i < values.Length; i++) format.Parameters.AddWithValue($"p{i}", values[i]);
        var statement = (string)(await format.ExecuteScalarAsync(cancel))!;
        await using var run = new NpgsqlCommand(statement, connection);
        await run.ExecuteNonQueryAsync(cancel);
    }
}
