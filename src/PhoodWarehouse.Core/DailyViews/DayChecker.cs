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
    public Task<IReadOnlyList<WindowCheck>> CheckAsync(IReadOnlyList<CheckWindow> windows, int throttleLimit, CancellationToken cancel,
        bool recordResults = true) =>
        CheckAsync(new CheckRequest
        {
            Days = windows.Select(w => new CheckDays(w.Tenant, w.Template, w.From, w.To)).ToList(),
            ThrottleLimit = throttleLimit, RecordResults = recordResults,
        }, cancel);

    /// <summary>
    /// Checks the days asked, one window per tenant and template (the days asked of it merged into one range), from one
    /// plan (<see cref="DayPlanner"/>: the tenants, their connections and todays, the templates they use).
    /// </summary>
    public async Task<IReadOnlyList<WindowCheck>> CheckAsync(CheckRequest request, CancellationToken cancel)
    {
        if (request.ThrottleLimit is < 1 or > MaxThrottle)
            throw new WarehouseException("InvalidThrottleLimit", WhErrorKind.InvalidArgument,
                $"-ThrottleLimit must be between 1 and {MaxThrottle}; it was {request.ThrottleLimit}.", request.ThrottleLimit);
        if (request.Days.Count == 0) return [];
        var asked = request.Days.Where(d => d.Template is not null).Select(d => d.Template!).Distinct().ToList();
        var plan = await DayPlanner.PlanAsync(connection, request.Days.Select(d => d.Tenant), asked, null, null, cancel);

        var pairs = new List<(string Tenant, string Template, DateOnly From, DateOnly? To)>();
        foreach (var wanted in request.Days)
        {
            var tenant = plan[wanted.Tenant];
            if (wanted.Template is null) pairs.AddRange(tenant.TemplatesInUse.Select(t => (wanted.Tenant, t, wanted.From, wanted.To)));
            // Only the templates a tenant uses (Test-WhMv): -Template X for a tenant without X would report every day
            // Missing, and Repair-WhMv would then load X into it.
            else if (!request.OnlyTemplatesInUse || tenant.Uses(wanted.Template)) pairs.Add((wanted.Tenant, wanted.Template, wanted.From, wanted.To));
            else logger.LogInformation("Tenant {Tenant} does not use template {Template}: not checked.", wanted.Tenant, wanted.Template);
        }
        var windows = pairs.GroupBy(p => (p.Tenant, p.Template))
            .Select(g => new CheckWindow(g.Key.Tenant, g.Key.Template, g.Min(p => p.From), g.Any(p => p.To is null) ? null : g.Max(p => p.To)))
            .OrderBy(w => w.Tenant, StringComparer.Ordinal).ThenBy(w => w.Template, StringComparer.Ordinal)
            .ToList();
        foreach (var window in windows) DateRange.EnsureOrdered(window.From, window.To);
        plan.EnsureTemplates(windows.Select(w => w.Template));
        foreach (var window in windows)
        {
            var today = plan[window.Tenant].Today;
            if ((window.To ?? window.From) > today)
                throw DateRange.InFuture("ends", window.To ?? window.From, today, $"the clock of tenant {window.Tenant}",
                    ": a day can only be checked once it has begun.");
        }

        var results = new WindowCheck[windows.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, windows.Count),
            new ParallelOptions { MaxDegreeOfParallelism = request.ThrottleLimit, CancellationToken = cancel },
            async (i, token) =>
            {
                var planned = plan[windows[i].Tenant];
                var window = windows[i] with { To = windows[i].To ?? planned.Today };
                results[i] = await CheckWindowAsync(window, planned.ConnectionName, request.RecordResults, token);
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
}

/// <summary>
/// What to check: the days asked (tenants piped in, or -Tenant/-Template/-From/-To), over at most
/// <see cref="ThrottleLimit"/> source connections at once.
/// </summary>
public sealed record CheckRequest
{
    public required IReadOnlyList<CheckDays> Days { get; init; }
    /// <summary>A template asked by name that the tenant does not use is passed over (said at Verbose), not checked (Test-WhMv).</summary>
    public bool OnlyTemplatesInUse { get; init; }
    public int ThrottleLimit { get; init; } = 4;
    /// <summary>False: nothing is written (no day state, no run log row), for a -WhatIf plan.</summary>
    public bool RecordResults { get; init; } = true;
}

/// <summary>Days asked of a tenant: one template, or (null) every template it uses; <see cref="To"/> null: up to its today.</summary>
public sealed record CheckDays(string Tenant, string? Template, DateOnly From, DateOnly? To);

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
