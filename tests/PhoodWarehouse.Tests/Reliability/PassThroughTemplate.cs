namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// A template that passes the source's columns through uncast, as many hand-written templates do: a source value that
/// does not read as the declared type fails in the warehouse, when dblink's text becomes the declared column.
/// </summary>
internal static class PassThroughTemplate
{
    public static Task AddAsync(NpgsqlConnection whadmin, string name) => whadmin.ExecAsync(
        """
        INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes)
        VALUES ($1, 'source columns uncast',
                'SELECT f.id, f.logged_time, f.station, f.weight FROM phood_foodlogsum f WHERE f.logged_time >= ''{TARGET_DATE}''::date AND f.logged_time < ''{TARGET_DATE}''::date + 1',
                'id bigint, logged_time timestamp, station text, weight numeric',
                'CREATE UNIQUE INDEX ON {SCHEMA}.{VIEW_NAME} (id);')
        """, name);
}
