namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// Every column of every row, as one comparable string: "count/md5" of the rows' text (the template's declared
/// columns, in order, each cast to its declared type), sorted bytewise so that both sides sort alike whatever
/// their collation, duplicates counted. The warehouse side reads a relation; the source side runs the template's own
/// rendered query for each day, so a day equals its source only when every value of every row is the same.
/// </summary>
public static class RowFingerprint
{
    /// <summary>The fingerprint of <paramref name="relation"/>'s rows (a daily name, a tenant view, a _closed table) that match <paramref name="where"/>.</summary>
    public static async Task<string> OfWarehouseAsync(NpgsqlConnection warehouse, string template, string relation, string where = "true") =>
        await ScalarAsync(warehouse, await WarehouseSqlAsync(warehouse, template, relation, where));

    /// <summary>The statement <see cref="OfWarehouseAsync"/> runs, for a reader that cannot read the template (phood_ro) to run.</summary>
    public static async Task<string> WarehouseSqlAsync(NpgsqlConnection warehouse, string template, string relation, string where = "true")
    {
        var columns = await ColumnsAsync(warehouse, template);
        var row = string.Join(", ", columns.Select(c => $"t.\"{c.Name}\""));
        return Aggregate($"SELECT ROW({row})::text AS r FROM {relation} t WHERE {where}");
    }

    /// <summary>The fingerprint of what the template's query returns at the source for the days <paramref name="from"/>..<paramref name="to"/>.</summary>
    public static async Task<string> OfSourceAsync(NpgsqlConnection warehouse, NpgsqlConnection source, string template, string schema,
        DateOnly from, DateOnly to)
    {
        var columns = await ColumnsAsync(warehouse, template);
        var names = string.Join(", ", columns.Select(c => $"\"{c.Name}\""));
        var casts = string.Join(", ", columns.Select(c => $"r.\"{c.Name}\"::{c.Type}"));
        var days = new List<string>();
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            await using var render = new NpgsqlCommand(
                "SELECT _wh.render_template_text(t.query_template, $2, _wh.create_mv_name($1, $3), $3) FROM _wh.mv_templates t WHERE t.template_name = $1", warehouse);
            render.Parameters.Add(new NpgsqlParameter { Value = template });
            render.Parameters.Add(new NpgsqlParameter { Value = schema });
            render.Parameters.Add(new NpgsqlParameter { Value = day });
            var query = ((string)(await render.ExecuteScalarAsync())!).TrimEnd().TrimEnd(';');
            days.Add($"SELECT ROW({casts})::text AS r FROM (\n{query}\n) AS r({names})");
        }
        return await ScalarAsync(source, Aggregate(string.Join("\nUNION ALL\n", days)));
    }

    private static string Aggregate(string rows) =>
        $"SELECT count(*) || '/' || md5(coalesce(string_agg(x.r, E'\\n' ORDER BY x.r COLLATE \"C\"), '')) FROM ({rows}) AS x";

    private static async Task<List<(string Name, string Type)>> ColumnsAsync(NpgsqlConnection warehouse, string template)
    {
        await using var command = new NpgsqlCommand(
            "SELECT c.column_name, c.data_type FROM _wh.mv_templates t, _wh.parse_column_definitions(t.column_definitions) c WHERE t.template_name = $1 ORDER BY c.ordinal",
            warehouse);
        command.Parameters.Add(new NpgsqlParameter { Value = template });
        await using var reader = await command.ExecuteReaderAsync();
        var columns = new List<(string, string)>();
        while (await reader.ReadAsync()) columns.Add((reader.GetString(0), reader.GetString(1)));
        if (columns.Count == 0) throw new InvalidOperationException($"template {template} has no columns");
        return columns;
    }

    private static async Task<string> ScalarAsync(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 300 };
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
