namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// The status of every day of a window, per tenant and template: the freshness picture's cells. One SQL statement
/// (the window's daily names by name, <c>_wh.day_state</c> and the run log, as <c>_wh.freshness</c> reads them), whatever
/// the number of tenants and days.
/// </summary>
/// <remarks>
/// The day-level rules are those <c>_wh.freshness</c> applies to a window's days (sql/wh/20-freshness.sql),
/// so that a cell agrees with <see cref="WhMvFreshness.MissingDates"/>, <see cref="WhMvFreshness.PartialDates"/> and
/// <see cref="WhMvFreshness.ChangedDates"/>; the first that holds: Failed (the day's latest failure is newer than its
/// latest success), NoData (no view, before the first loaded day), Missing (no view), Changed (the last check found it
/// different), Partial (before yesterday, captured before it ended), Open (today or yesterday, not finished yet), Fresh.
/// Late comes from the pair: when <c>_wh.freshness</c> calls a pair Late (its yesterday is unfinished past the SLA),
/// yesterday's Missing or Open cell is Late.
/// </remarks>
public sealed class FreshnessCalendar(WhConnection connection, ILogger logger)
{
    // Built as _wh.freshness builds its window: each day of each window is looked up by name (pg_class's index), with its
    // _wh.day_state row and its run log (one index probe each), so the cost follows pairs x days, not the number of days
    // the warehouse holds. The first loaded day is the freshness row's (FirstDate): the same first day, hence the same
    // missing days, and no second pass over every daily name. (Joining _wh.daily_views instead let the planner probe
    // day_state by template alone for every day: 720,000 rows filtered for 1,200 days, 130 ms, measured.)
    private const string DaysSql =
        """
        WITH pairs AS MATERIALIZED (
            SELECT p.tenant, p.template, p.first_day, t.time_zone, d.today, d.today - (@days - 1) AS window_start
            FROM unnest(@tenants::text[], @templates::text[], @firsts::date[]) AS p(tenant, template, first_day)
            JOIN _wh.tenants t ON t.schema_name = p.tenant
            CROSS JOIN LATERAL (SELECT _wh.today_in(t.time_zone) AS today) d)
        SELECT p.tenant, p.template, g.day, p.today, p.first_day, c.kind IS NOT NULL AS present, coalesce(c.kind IN ('v', 't'), false),
               s.captured_at, s.captured_rows, s.captured_at >= _wh.day_end(g.day, p.time_zone) AS complete, s.check_status,
               s.last_checked_at, s.warehouse_rows, s.source_rows, s.verified_at, l.last_success, l.last_failure, l.last_error
        FROM pairs p
        CROSS JOIN LATERAL (SELECT d::date AS day FROM generate_series(p.window_start, p.today, interval '1 day') d) g
        -- (LIMIT 1: not flattened into joins, so each is an index lookup whatever the estimates say)
        LEFT JOIN LATERAL (SELECT c.relkind AS kind FROM pg_catalog.pg_class c
                           WHERE c.oid = to_regclass(format('%I.%I', p.tenant, _wh.create_mv_name(p.template, g.day)))
                             AND c.relkind IN ('m', 'v') LIMIT 1) c ON true
        LEFT JOIN LATERAL (SELECT s.captured_at, s.captured_rows, s.check_status, s.last_checked_at, s.warehouse_rows,
                                  s.source_rows, s.verified_at
                           FROM _wh.day_state s
                           WHERE s.schema_name = p.tenant AND s.template_name = p.template AND s.day = g.day LIMIT 1) s ON true
        LEFT JOIN LATERAL (
            SELECT max(r.logged_at) FILTER (WHERE r.action IN ('created', 'refreshed', 'recreated')) AS last_success,
                   max(r.logged_at) FILTER (WHERE r.action = 'failed') AS last_failure,
                   (array_agg(r.error ORDER BY r.logged_at DESC, r.id DESC) FILTER (WHERE r.action = 'failed'))[1] AS last_error
            FROM _wh.run_log r
            WHERE r.tenant_schema = p.tenant AND r.template_name = p.template AND r.target_date = g.day) l ON true
        ORDER BY 1, 2, 3
        """;

    // Late is a status _wh.freshness gains with the per-tenant freshness SLA (issue 30); until then no pair has it.
    private static readonly FreshnessStatus? LateStatus = Enum.TryParse<FreshnessStatus>("Late", out var late) ? late : null;

    /// <summary>
    /// Every day of each pair's window (its <see cref="WhMvFreshness.WindowStart"/> .. <see cref="WhMvFreshness.Today"/>
    /// length, on the tenant's clock), ordered by tenant, template and day; days before the pair's
    /// <see cref="WhMvFreshness.FirstDate"/> are NoData. Pairs whose tenant is gone are left out.
    /// </summary>
    public async Task<IReadOnlyList<WhDayFreshness>> ReadAsync(IReadOnlyList<WhMvFreshness> pairs, CancellationToken cancel)
    {
        var asked = pairs.Where(p => p.Template.Length > 0).DistinctBy(p => (p.Tenant, p.Template)).ToList();
        if (asked.Count == 0) return [];
        var days = asked.Max(p => (int)(p.Today - p.WindowStart).TotalDays + 1);
        var late = asked.Where(p => LateStatus is { } l && p.Status == l).Select(p => (p.Tenant, p.Template)).ToHashSet();
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var command = Db.Command(db, DaysSql,
            ("days", days), ("tenants", asked.Select(p => p.Tenant).ToArray()), ("templates", asked.Select(p => p.Template).ToArray()),
            ("firsts", asked.Select(p => p.FirstDate).ToArray()));
        command.Parameters["firsts"].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Date;
        var result = await Db.ReadAllAsync(command, reader =>
        {
            var tenant = reader.GetString(0);
            var template = reader.GetString(1);
            var day = DateOnly.FromDateTime(reader.GetDateTime(2));
            var today = DateOnly.FromDateTime(reader.GetDateTime(3));
            DateOnly? first = reader.IsDBNull(4) ? null : DateOnly.FromDateTime(reader.GetDateTime(4));
            var present = reader.GetBoolean(5);
            bool? complete = reader.IsDBNull(9) ? null : reader.GetBoolean(9);
            MvCheckStatus? check = reader.IsDBNull(10) ? null : Enum.Parse<MvCheckStatus>(reader.GetString(10));
            DateTime? success = Time(reader, 15), failure = Time(reader, 16);
            var failing = failure is { } f && f > (success ?? DateTime.MinValue);
            return new WhDayFreshness
            {
                Tenant = tenant,
                Template = template,
                Date = day.ToDateTime(TimeOnly.MinValue),
                Today = today.ToDateTime(TimeOnly.MinValue),
                Status = Classify(day, today, first, present, complete, check, failing, late.Contains((tenant, template))),
                Present = present,
                Compacted = reader.GetBoolean(6),
                CapturedAt = Time(reader, 7),
                CapturedRows = reader.IsDBNull(8) ? null : reader.GetInt64(8),
                CheckStatus = check,
                LastChecked = Time(reader, 11),
                WarehouseRows = reader.IsDBNull(12) ? null : reader.GetInt64(12),
                SourceRows = reader.IsDBNull(13) ? null : reader.GetInt64(13),
                LastVerified = Time(reader, 14),
                LastSuccess = success,
                LastFailure = failure,
                LastError = reader.IsDBNull(17) ? null : reader.GetString(17),
            };
        }, cancel);
        logger.LogDebug("{Days} day(s) of {Pairs} tenant/template pair(s) read", result.Count, asked.Count);
        return result;
    }

    /// <summary>The day-level rules (see the remarks of <see cref="FreshnessCalendar"/>), first that holds.</summary>
    internal static DayStatus Classify(DateOnly day, DateOnly today, DateOnly? firstDay, bool present, bool? complete,
        MvCheckStatus? check, bool failing, bool pairLate)
    {
        var lateYesterday = pairLate && day == today.AddDays(-1);
        if (failing) return DayStatus.Failed;
        if (!present)
        {
            if (firstDay is null || day < firstDay) return DayStatus.NoData;
            return lateYesterday ? DayStatus.Late : DayStatus.Missing;
        }
        if (check == MvCheckStatus.Changed) return DayStatus.Changed;
        if (complete == false)
        {
            if (day <= today.AddDays(-2)) return DayStatus.Partial;
            return lateYesterday ? DayStatus.Late : DayStatus.Open;
        }
        return DayStatus.Fresh;
    }

    private static DateTime? Time(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetDateTime(column).ToLocalTime();
}
