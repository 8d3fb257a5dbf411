using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// Compares days with their sources through <c>_wh.check_mv_window_by_template</c> (the function the scheduled
/// refresh and psql use): one call, hence one source connection, per tenant and template; tenants in parallel up to
/// a throttle. Changes no day; the SQL records each result in <c>_wh.day_state</c> and the run log.
/// </summary>
public sealed class DayChecker(WhConnection connection, ILogger logger)
{
    public const int MaxThrottle = 16;

    /// <summary>
    /// Checks every window; a window whose source is down (or that fails otherwise) comes back with its error.
    /// <paramref name="recordResults"/> false: nothing is written (no day state, no run log row), for a -WhatIf plan.
    /// </summary>
    public async Task<IReadOnlyList<WindowCheck>> CheckAsync(IReadOnlyList<CheckWindow> windows, int throttleLimit, CancellationToken cancel,
        bool recordResults = true)
    {
        if (throttleLimit is < 1 or > MaxThrottle)
            throw new WarehouseException("InvalidThrottleLimit", WhErrorKind.InvalidArgument,
                $"-ThrottleLimit must be between 1 and {MaxThrottle}; it was {throttleLimit}.", throttleLimit);
        foreach (var window in windows) DateRange.EnsureOrdered(window.From, window.To);

        Dictionary<string, string> connections;
        Dictionary<string, DateOnly> todays;
        await using (var db = await connection.DataSource.OpenConnectionAsync(cancel))
        {
            var tenants = windows.Select(w => w.Tenant).Distinct().ToArray();
            connections = new Dictionary<string, string>(StringComparer.Ordinal);
            await using (var command = Db.Command(db, "SELECT schema_name, connection_name FROM _wh.tenants WHERE schema_name = ANY(@t)", ("t", tenants)))
            await using (var reader = await command.ExecuteReaderAsync(cancel))
                while (await reader.ReadAsync(cancel)) connections[reader.GetString(0)] = reader.GetString(1);
            if (tenants.FirstOrDefault(t => !connections.ContainsKey(t)) is { } unknown) throw TenantStore.NotFound(unknown);
            foreach (var template in windows.Select(w => w.Template).Distinct())
                if (!await Db.ScalarAsync<bool>(db, "SELECT EXISTS (SELECT 1 FROM _wh.mv_templates WHERE template_name = @t)", cancel, ("t", template)))
                    throw Templates.TemplateStore.NotFound(template);
            todays = await TenantClock.TodayAsync(db, tenants, cancel);
        }
        foreach (var window in windows)
        {
            var today = todays[window.Tenant];
            if ((window.To ?? window.From) > today)
                throw new WarehouseException("FutureDateRange", WhErrorKind.InvalidArgument,
                    $"The range ends on {window.To ?? window.From:yyyy-MM-dd}, after today ({today:yyyy-MM-dd} on the clock of tenant {window.Tenant}): a day can only be checked once it has begun.", window.To ?? window.From);
        }

        var results = new WindowCheck[windows.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, windows.Count),
            new ParallelOptions { MaxDegreeOfParallelism = throttleLimit, CancellationToken = cancel },
            async (i, token) =>
            {
                var window = windows[i] with { To = windows[i].To ?? todays[windows[i].Tenant] };
                results[i] = await CheckWindowAsync(window, connections[window.Tenant], recordResults, token);
            });
        return results;
    }

    private async Task<WindowCheck> CheckWindowAsync(CheckWindow window, string connectionName, bool recordResults, CancellationToken cancel)
    {
        logger.LogInformation("Checking {Tenant}/{Template} {From:yyyy-MM-dd} .. {To:yyyy-MM-dd} against its source",
            window.Tenant, window.Template, window.From, window.To);
        try
        {
            await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
            await using var command = Db.Command(db,
                "SELECT day, status, warehouse_rows, source_rows, checked_at FROM _wh.check_mv_window_by_template(@t, @c, @s, @f, @e, @r)",
                ("t", window.Template), ("c", connectionName), ("s", window.Tenant), ("f", window.From), ("e", window.To), ("r", recordResults));
            command.CommandTimeout = 0;
            var days = await Db.ReadAllAsync(command, r => new WhMvCheck
            {
                Tenant = window.Tenant,
                Template = window.Template,
                Date = r.GetDateTime(0),
                Status = Enum.Parse<MvCheckStatus>(r.GetString(1)),
                WarehouseRows = r.IsDBNull(2) ? null : r.GetInt64(2),
                SourceRows = r.IsDBNull(3) ? null : r.GetInt64(3),
                CheckedAt = r.GetDateTime(4).ToLocalTime(),
            }, cancel);
            logger.LogInformation("{Tenant}/{Template}: {Match} of {Days} day(s) match their source", window.Tenant, window.Template,
                days.Count(d => d.Status == MvCheckStatus.Match), days.Count);
            return new WindowCheck(window, days, null);
        }
        catch (Exception error) when (error is NpgsqlException or PostgresException)
        {
            var message = error is PostgresException { SqlState: "08006" or "08001" or "08000" } pg
                ? new WarehouseException("SourceUnreachable", WhErrorKind.ConnectionError,
                    $"The days of {window.Tenant}/{window.Template} from {window.From:yyyy-MM-dd} to {window.To:yyyy-MM-dd} were not checked: {pg.MessageText} " +
                    $"Test-WhTenantConnection {window.Tenant} shows why; run the check again once the source answers.", window.Tenant, error)
                : new WarehouseException("CheckFailed", WhErrorKind.OperationFailed,
                    $"The days of {window.Tenant}/{window.Template} from {window.From:yyyy-MM-dd} to {window.To:yyyy-MM-dd} were not checked: {DatabaseErrors.Translate(error).Message}",
                    window.Tenant, error);
            logger.LogWarning("{Message}", message.Message);
            return new WindowCheck(window, [], message);
        }
    }

    /// <summary>Logs 'repaired' for each day a repair loaded again (what the scheduled refresh logs for the days it repairs).</summary>
    public async Task RecordRepairsAsync(IEnumerable<WhMvResult> repaired, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        foreach (var day in repaired.Where(d => d.Action is MvAction.Created or MvAction.Recreated))
            await Db.ExecuteAsync(db,
                "SELECT _wh.log_run(@s, (SELECT connection_name FROM _wh.tenants WHERE schema_name = @s), @t, @d, 'repaired', @n, @ms)", cancel,
                ("s", day.Tenant), ("t", day.Template), ("d", DateOnly.FromDateTime(day.Date)), ("n", day.Rows), ("ms", (decimal)day.Duration.TotalMilliseconds));
    }
}

/// <summary>The days to check of one tenant's template; <see cref="To"/> null: up to the tenant's today.</summary>
public sealed record CheckWindow(string Tenant, string Template, DateOnly From, DateOnly? To);

/// <summary>The outcome of checking one window: its days, or the error that stopped it (nothing was checked then).</summary>
public sealed record WindowCheck(CheckWindow Window, IReadOnlyList<WhMvCheck> Days, WarehouseException? Error);

/// <summary>How one day compares with its source, as Test-WhMv reports it and Repair-WhMv takes it.</summary>
public sealed record WhMvCheck
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required DateTime Date { get; init; }
    public required MvCheckStatus Status { get; init; }
    /// <summary>Rows of the warehouse's day; null when it has no such day.</summary>
    public long? WarehouseRows { get; init; }
    public long? SourceRows { get; init; }
    public required DateTime CheckedAt { get; init; }
    /// <summary>The daily view, schema-qualified.</summary>
    public string View => DailyViewName.Qualified(Tenant, Template, DateOnly.FromDateTime(Date));

    public override string ToString() => $"{View}: {Status}";
}
