using Microsoft.Extensions.Logging;
using Npgsql;
using PhoodWarehouse.Core.Connections;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// Reads what the warehouse holds: daily views with size and rows, and per tenant and template how fresh they are.
/// Each answer is one SQL statement, however many tenants and days there are.
/// </summary>
public sealed class DailyViewCatalog(WhConnection connection, ILogger logger)
{
    // Daily views = materialized views of a registered tenant schema named <template>_YYYY_MM_DD of a known template,
    // and closed days compacted into <template>_closed, whose names are plain views: for those, SizeBytes is null (they
    // share the table) and Rows is the count the run log recorded when the day was loaded (no scan).
    // Exact names (no wildcard) narrow the scan in SQL; wildcards are matched in C# afterwards.
    private const string ListSql =
        """
        SELECT n.nspname, m.template_name, d.day, c.relname,
               CASE WHEN c.relkind = 'm' THEN pg_total_relation_size(c.oid) END,
               CASE WHEN c.relkind = 'v'
                    THEN (SELECT r.row_count FROM _wh.run_log r
                          WHERE r.tenant_schema = n.nspname AND r.template_name = m.template_name AND r.target_date = d.day
                            AND r.action IN ('created', 'refreshed', 'recreated') AND r.row_count IS NOT NULL
                          ORDER BY r.logged_at DESC LIMIT 1)
                    WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END,
               (SELECT max(r.logged_at) FROM _wh.run_log r
                WHERE r.tenant_schema = n.nspname AND r.template_name = m.template_name AND r.target_date = d.day
                  AND r.action IN ('created', 'refreshed', 'recreated'))
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN _wh.tenants t ON t.schema_name = n.nspname
        JOIN _wh.mv_templates m ON c.relname ~ ('^' || m.template_name || '_\d{4}_\d{2}_\d{2}$')
        CROSS JOIN LATERAL (SELECT CASE WHEN c.relname ~ '_\d{4}_\d{2}_\d{2}$' THEN to_date(right(c.relname, 10), 'YYYY_MM_DD') END AS day) d
        WHERE c.relkind IN ('m', 'v')
          AND (@tenants::text[] IS NULL OR n.nspname = ANY (@tenants))
          AND (@templates::text[] IS NULL OR m.template_name = ANY (@templates))
          AND (@from::date IS NULL OR d.day >= @from)
          AND (@to::date IS NULL OR d.day <= @to)
        ORDER BY 1, 2, 3
        """;

    public async Task<IReadOnlyList<WhMv>> ListAsync(DailyViewQuery query, CancellationToken cancel)
    {
        if (query.From is { } from && query.To is { } to && from > to)
            throw new WarehouseException("InvalidDateRange", WhErrorKind.InvalidArgument,
                $"-From {from:yyyy-MM-dd} is after -To {to:yyyy-MM-dd}. Swap them.", query);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, ListSql,
            ("tenants", ExactNames(query.Tenants)), ("templates", ExactNames(query.Templates)),
            ("from", query.From), ("to", query.To));
        command.Parameters["tenants"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["templates"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["from"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        command.Parameters["to"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var views = new List<WhMv>();
        while (await reader.ReadAsync(cancel))
        {
            var tenant = reader.GetString(0);
            var template = reader.GetString(1);
            if (!NamePattern.AnyMatch(query.Tenants, tenant) || !NamePattern.AnyMatch(query.Templates, template)) continue;
            views.Add(new WhMv
            {
                Tenant = tenant,
                Template = template,
                Date = reader.GetDateTime(2),
                Name = reader.GetString(3),
                SizeBytes = reader.IsDBNull(4) ? null : reader.GetInt64(4),
                Rows = reader.IsDBNull(5) ? null : reader.GetInt64(5),
                LastRefreshed = reader.IsDBNull(6) ? null : reader.GetDateTime(6).ToLocalTime(),
            });
        }
        logger.LogDebug("{Count} daily views listed", views.Count);
        return views;
    }

    // Pairs reported: every registered tenant × template that has a tenant view, a daily view or a run-log row.
    // Missing days: from the later of the window start and the first loaded day, up to today.
    // An unresolved failure: a day in the window whose latest failed run is newer than its latest success and
    // that has no view now.
    private const string FreshnessSql =
        """
        WITH p AS (SELECT CURRENT_DATE AS today, CURRENT_DATE - (@days - 1) AS window_start),
        ten AS (SELECT schema_name FROM _wh.tenants WHERE @tenants::text[] IS NULL OR schema_name = ANY (@tenants)),
        tpl AS (SELECT template_name FROM _wh.mv_templates WHERE @templates::text[] IS NULL OR template_name = ANY (@templates)),
        days AS (
            SELECT n.nspname AS tenant, m.template_name AS template,
                   CASE WHEN c.relname ~ '_\d{4}_\d{2}_\d{2}$' THEN to_date(right(c.relname, 10), 'YYYY_MM_DD') END AS day
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN ten ON ten.schema_name = n.nspname
            JOIN tpl m ON c.relname ~ ('^' || m.template_name || '_\d{4}_\d{2}_\d{2}$')
            WHERE c.relkind IN ('m', 'v')),
        log AS (
            SELECT r.tenant_schema AS tenant, r.template_name AS template, r.target_date AS day,
                   max(r.logged_at) FILTER (WHERE r.action IN ('created', 'refreshed', 'recreated')) AS success,
                   max(r.logged_at) FILTER (WHERE r.action = 'failed') AS failure,
                   (array_agg(r.error ORDER BY r.logged_at DESC) FILTER (WHERE r.action = 'failed'))[1] AS error
            FROM _wh.run_log r
            JOIN ten ON ten.schema_name = r.tenant_schema
            JOIN tpl ON tpl.template_name = r.template_name
            GROUP BY 1, 2, 3),
        pairs AS (
            SELECT ten.schema_name AS tenant, tpl.template_name AS template
            FROM ten CROSS JOIN tpl
            WHERE EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = ten.schema_name AND c.relname = tpl.template_name)
               OR EXISTS (SELECT 1 FROM days d WHERE d.tenant = ten.schema_name AND d.template = tpl.template_name)
               OR EXISTS (SELECT 1 FROM log l WHERE l.tenant = ten.schema_name AND l.template = tpl.template_name))
        SELECT pairs.tenant, pairs.template, p.today, p.window_start, v.first_day, v.latest_day, v.views,
               ARRAY(SELECT g::date FROM generate_series(greatest(p.window_start, v.first_day), p.today, interval '1 day') g
                     WHERE NOT EXISTS (SELECT 1 FROM days d WHERE d.tenant = pairs.tenant AND d.template = pairs.template AND d.day = g::date)
                     ORDER BY 1) AS missing,
               l.last_success, l.last_failure, l.last_error,
               EXISTS (SELECT 1 FROM log f
                       WHERE f.tenant = pairs.tenant AND f.template = pairs.template AND f.day BETWEEN p.window_start AND p.today
                         AND f.failure > coalesce(f.success, '-infinity')
                         AND NOT EXISTS (SELECT 1 FROM days d WHERE d.tenant = f.tenant AND d.template = f.template AND d.day = f.day))
               AS unresolved
        FROM pairs
        CROSS JOIN p
        LEFT JOIN LATERAL (SELECT min(d.day) AS first_day, max(d.day) AS latest_day, count(*)::int AS views
                           FROM days d WHERE d.tenant = pairs.tenant AND d.template = pairs.template) v ON true
        LEFT JOIN LATERAL (SELECT max(success) AS last_success, max(failure) AS last_failure,
                                  (array_agg(error ORDER BY failure DESC NULLS LAST))[1] AS last_error
                           FROM log WHERE log.tenant = pairs.tenant AND log.template = pairs.template) l ON true
        ORDER BY 1, 2
        """;

    public async Task<IReadOnlyList<WhMvFreshness>> FreshnessAsync(IReadOnlyList<NamePattern> tenants, IReadOnlyList<NamePattern> templates,
        int days, CancellationToken cancel)
    {
        if (days < 1)
            throw new WarehouseException("InvalidDays", WhErrorKind.InvalidArgument, $"-Days must be 1 or more (got {days}).", days);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, FreshnessSql,
            ("days", days), ("tenants", ExactNames(tenants)), ("templates", ExactNames(templates)));
        command.Parameters["tenants"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["templates"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var report = new List<WhMvFreshness>();
        while (await reader.ReadAsync(cancel))
        {
            var tenant = reader.GetString(0);
            var template = reader.GetString(1);
            if (!NamePattern.AnyMatch(tenants, tenant) || !NamePattern.AnyMatch(templates, template)) continue;
            var today = reader.GetDateTime(2);
            DateTime? latest = reader.IsDBNull(5) ? null : reader.GetDateTime(5);
            var missing = reader.GetFieldValue<DateTime[]>(7);
            DateTime? lastSuccess = reader.IsDBNull(8) ? null : reader.GetDateTime(8).ToLocalTime();
            DateTime? lastFailure = reader.IsDBNull(9) ? null : reader.GetDateTime(9).ToLocalTime();
            var unresolved = reader.GetBoolean(11);
            var behind = latest is null ? (int?)null : (int)(today - latest.Value).TotalDays;
            var status =
                latest is null ? FreshnessStatus.Empty
                : unresolved || lastFailure > (lastSuccess ?? DateTime.MinValue) ? FreshnessStatus.Failing
                : behind > 1 ? FreshnessStatus.Stale
                : missing.Any(d => d < latest) ? FreshnessStatus.Gaps
                : FreshnessStatus.Fresh;
            report.Add(new WhMvFreshness
            {
                Tenant = tenant,
                Template = template,
                Today = today,
                WindowStart = reader.GetDateTime(3),
                FirstDate = reader.IsDBNull(4) ? null : reader.GetDateTime(4),
                LatestDate = latest,
                DailyViewCount = reader.IsDBNull(6) ? 0 : reader.GetInt32(6),
                DaysBehind = behind,
                MissingDates = missing,
                LastSuccess = lastSuccess,
                LastFailure = lastFailure,
                LastError = reader.IsDBNull(10) ? null : reader.GetString(10),
                Status = status,
            });
        }
        return report;
    }

    /// <summary>The names to pass to SQL: null (no narrowing) when none is given or any has a wildcard.</summary>
    internal static string[]? ExactNames(IReadOnlyList<NamePattern> patterns) =>
        patterns.Count == 0 || patterns.Any(p => p.HasWildcards) ? null : patterns.Select(p => p.Text.ToLowerInvariant()).ToArray();

    internal static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken cancel)
    {
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var items = new List<T>();
        while (await reader.ReadAsync(cancel)) items.Add(read(reader));
        return items;
    }
}
