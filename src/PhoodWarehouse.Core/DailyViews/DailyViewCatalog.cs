namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// Reads what the warehouse holds: daily views with size and rows, and per tenant and template how fresh they are.
/// Each answer is one SQL statement, however many tenants and days there are.
/// </summary>
public sealed class DailyViewCatalog(WhConnection connection, ILogger logger)
{
    // Daily views as the SQL catalog _wh.daily_views lists them (materialized views, and closed days compacted into
    // <template>_closed, whose names are plain views: for those SizeBytes is null, they share the table, and Rows is the
    // count recorded when the day was loaded, no scan). Exact names (no wildcard) narrow the scan in SQL; wildcards are
    // matched in C# afterwards. Days loaded by an earlier release have no capture time: the run log's last load stands in.
    private const string ListSql =
        """
        SELECT v.schema_name, v.template_name, v.day, v.relation,
               CASE WHEN v.kind = 'm' THEN pg_total_relation_size(v.relid) END,
               CASE WHEN v.kind IN ('v', 't')
                    THEN coalesce(v.captured_rows,
                                  (SELECT r.row_count FROM _wh.run_log r
                                   WHERE r.tenant_schema = v.schema_name AND r.template_name = v.template_name AND r.target_date = v.day
                                     AND r.action IN ('created', 'refreshed', 'recreated') AND r.row_count IS NOT NULL
                                   ORDER BY r.logged_at DESC LIMIT 1))
                    ELSE (SELECT CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END FROM pg_class c
                          WHERE c.oid = v.relid) END,
               coalesce(v.captured_at,
                        (SELECT max(r.logged_at) FROM _wh.run_log r
                         WHERE r.tenant_schema = v.schema_name AND r.template_name = v.template_name AND r.target_date = v.day
                           AND r.action IN ('created', 'refreshed', 'recreated'))),
               v.captured_at, v.complete, v.check_status, v.last_checked_at, v.verified_at, v.compacted
        FROM _wh.daily_views v
        WHERE (@tenants::text[] IS NULL OR v.schema_name = ANY (@tenants))
          AND (@templates::text[] IS NULL OR v.template_name = ANY (@templates))
          AND (@from::date IS NULL OR v.day >= @from)
          AND (@to::date IS NULL OR v.day <= @to)
        ORDER BY 1, 2, 3
        """;

    public async Task<IReadOnlyList<WhMv>> ListAsync(DailyViewQuery query, CancellationToken cancel)
    {
        if (query.From is { } from) DateRange.EnsureOrdered(from, query.To);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, ListSql,
            ("tenants", ExactNames(query.Tenants)), ("templates", ExactNames(query.Templates)),
            ("from", query.From), ("to", query.To));
        command.Parameters["tenants"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["templates"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["from"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        command.Parameters["to"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date;
        var views = (await Db.ReadAllAsync(command, reader => new WhMv
            {
                Tenant = reader.GetString(0),
                Template = reader.GetString(1),
                Date = reader.GetDateTime(2),
                Name = reader.GetString(3),
                SizeBytes = reader.IsDBNull(4) ? null : reader.GetInt64(4),
                Rows = reader.IsDBNull(5) ? null : reader.GetInt64(5),
                LastRefreshed = reader.IsDBNull(6) ? null : reader.GetDateTime(6).ToLocalTime(),
                CapturedAt = reader.IsDBNull(7) ? null : reader.GetDateTime(7).ToLocalTime(),
                Complete = reader.IsDBNull(8) ? null : reader.GetBoolean(8),
                CheckStatus = reader.IsDBNull(9) ? null : Enum.Parse<MvCheckStatus>(reader.GetString(9)),
                LastChecked = reader.IsDBNull(10) ? null : reader.GetDateTime(10).ToLocalTime(),
                LastVerified = reader.IsDBNull(11) ? null : reader.GetDateTime(11).ToLocalTime(),
                Compacted = reader.GetBoolean(12),
            }, cancel))
            .Where(v => NamePattern.AnyMatch(query.Tenants, v.Tenant) && NamePattern.AnyMatch(query.Templates, v.Template))
            .ToList();
        logger.LogDebug("{Count} daily views listed", views.Count);
        return views;
    }

    /// <summary>
    /// Freshness per tenant and template from the SQL engine <c>_wh.freshness</c> (the one Get-WhHealth reads too:
    /// one set of status rules, on each tenant's clock).
    /// </summary>
    public async Task<IReadOnlyList<WhMvFreshness>> FreshnessAsync(IReadOnlyList<NamePattern> tenants, IReadOnlyList<NamePattern> templates,
        int days, CancellationToken cancel)
    {
        if (days < 1)
            throw new WarehouseException("InvalidDays", WhErrorKind.InvalidArgument, $"-Days must be 1 or more (got {days}).", days);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var report = (await ReadFreshnessAsync(db, days, ExactNames(tenants), ExactNames(templates), cancel))
            .Where(f => f.Template.Length > 0 && NamePattern.AnyMatch(tenants, f.Tenant) && NamePattern.AnyMatch(templates, f.Template))
            .ToList();
        return report;
    }

    /// <summary>
    /// Rows of <c>_wh.freshness(days, tenants, templates)</c>; a tenant with no template at all comes back once with an
    /// empty <see cref="WhMvFreshness.Template"/> (status Empty) when <paramref name="templates"/> is null.
    /// </summary>
    public static async Task<List<WhMvFreshness>> ReadFreshnessAsync(NpgsqlConnection db, int days, string[]? tenants, string[]? templates,
        CancellationToken cancel)
    {
        await using var command = Db.Command(db,
            """
            SELECT tenant, coalesce(template, ''), today, window_start, first_day, latest_day, daily_views, compacted_views,
                   missing, partial, changed, last_success, last_failure, last_error, last_verified, status,
                   failed, last_capture, freshness_sla, seconds_late::float8, last_sqlstate
            FROM _wh.freshness(@days, @tenants, @templates)
            """,
            ("days", days), ("tenants", tenants), ("templates", templates));
        command.Parameters["tenants"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        command.Parameters["templates"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text;
        return await Db.ReadAllAsync(command, reader =>
        {
            var today = reader.GetDateTime(2);
            DateTime? latest = reader.IsDBNull(5) ? null : reader.GetDateTime(5);
            return new WhMvFreshness
            {
                Tenant = reader.GetString(0),
                Template = reader.GetString(1),
                Today = today,
                WindowStart = reader.GetDateTime(3),
                FirstDate = reader.IsDBNull(4) ? null : reader.GetDateTime(4),
                LatestDate = latest,
                DailyViewCount = reader.GetInt32(6),
                CompactedViewCount = reader.GetInt32(7),
                DaysBehind = latest is null ? null : (int)(today - latest.Value).TotalDays,
                MissingDates = new ReadableList<DateTime>(reader.GetFieldValue<DateTime[]>(8)),
                PartialDates = new ReadableList<DateTime>(reader.GetFieldValue<DateTime[]>(9)),
                ChangedDates = new ReadableList<DateTime>(reader.GetFieldValue<DateTime[]>(10)),
                LastSuccess = reader.IsDBNull(11) ? null : reader.GetDateTime(11).ToLocalTime(),
                LastFailure = reader.IsDBNull(12) ? null : reader.GetDateTime(12).ToLocalTime(),
                LastError = reader.IsDBNull(13) ? null : reader.GetString(13),
                LastVerified = reader.IsDBNull(14) ? null : reader.GetDateTime(14).ToLocalTime(),
                Status = Enum.Parse<FreshnessStatus>(reader.GetString(15)),
                FailedDates = new ReadableList<DateTime>(reader.GetFieldValue<DateTime[]>(16)),
                LastCapture = reader.IsDBNull(17) ? null : reader.GetDateTime(17).ToLocalTime(),
                FreshnessSla = reader.IsDBNull(18) ? null : reader.GetTimeSpan(18),
                LateBy = TimeSpan.FromSeconds(reader.GetDouble(19)),
                LastErrorSqlState = reader.IsDBNull(20) ? null : reader.GetString(20),
            };
        }, cancel);
    }

    /// <summary>The names to pass to SQL: null (no narrowing) when none is given or any has a wildcard.</summary>
    internal static string[]? ExactNames(IReadOnlyList<NamePattern> patterns) =>
        patterns.Count == 0 || patterns.Any(p => p.HasWildcards) ? null : patterns.Select(p => p.Text.ToLowerInvariant()).ToArray();
}
