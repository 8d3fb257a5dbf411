using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using PhoodWarehouse.Core.Tenants;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>
/// Loads many days at once: each day over its own pooled connection and in its own transaction, through
/// <c>_wh.update_mv_by_template</c> (the function pg_cron and psql use). A failed day is reported and the
/// others go on; a re-run does only what is missing. The tenant and public views are rebuilt once at the end
/// (also after a cancellation or a stop), not once per day.
/// </summary>
public sealed class BackfillRunner(WhConnection connection, ILogger logger)
{
    public const int MaxThrottle = 16;

    /// <summary>No tenant's data is older than this: an earlier -From is a typo (1024 for 2024), not history.</summary>
    public static readonly DateOnly EarliestDay = new(2000, 1, 1);

    /// <summary>Checks the request and works out every day to touch, before any work starts.</summary>
    public async Task<BackfillPlan> PlanAsync(BackfillRequest request, CancellationToken cancel)
    {
        Validate(request);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var known = await DayPlanner.PlanAsync(db, request.Tenants, request.Templates, request.From, request.To, cancel);
        return await PlanAsync(db, request, known, cancel);
    }

    /// <summary>
    /// One day of a tenant's template (Update-WhMv); without <paramref name="day"/>, today on the tenant's clock, as the
    /// plan reads it (TenantNotFound when the tenant is unknown).
    /// </summary>
    public async Task<BackfillPlan> PlanDayAsync(string tenant, string template, DateOnly? day, bool force, CancellationToken cancel)
    {
        BackfillRequest Request(DateOnly date) => new()
        {
            Tenants = [tenant], Templates = [template], From = date, To = date, Force = force, ThrottleLimit = 1,
        };
        if (day is { } given) Validate(Request(given));
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        var known = await DayPlanner.PlanAsync(db, [tenant], [template], day, day, cancel);
        var request = Request(day ?? known[tenant].Today);
        if (day is null) Validate(request);
        return await PlanAsync(db, request, known, cancel);
    }

    /// <summary>
    /// A plan of exactly the given days (Repair-WhMv: the days a check found different), each loaded through
    /// <c>_wh.repair_day</c>: existing days are re-created beside the old rows and swapped, missing days created, and
    /// each is logged 'repaired' with its load (the scheduled refresh repairs through the same function).
    /// </summary>
    public async Task<BackfillPlan> PlanRepairAsync(IReadOnlyList<(string Tenant, string Template, DateOnly Date)> wanted,
        int throttleLimit, CancellationToken cancel)
    {
        if (wanted.Count == 0)
            throw new WarehouseException("NothingToLoad", WhErrorKind.InvalidArgument, "No day to load.", null);
        var tenants = wanted.Select(w => w.Tenant).Distinct().ToList();
        var known = await DayPlanner.PlanAsync(connection, tenants, wanted.Select(w => w.Template), wanted.Min(w => w.Date), wanted.Max(w => w.Date), cancel);
        known.EnsureTemplates();
        var days = wanted.Distinct().OrderBy(w => w.Tenant, StringComparer.Ordinal).ThenBy(w => w.Template, StringComparer.Ordinal).ThenBy(w => w.Date)
            .Select(w => new BackfillDay(w.Tenant, known[w.Tenant].ConnectionName, w.Template, w.Date, known.Exists(w.Tenant, w.Template, w.Date)))
            .ToList();
        var request = new BackfillRequest
        {
            Tenants = tenants, Templates = days.Select(d => d.Template).Distinct().ToList(),
            From = days.Min(d => d.Date), To = days.Max(d => d.Date), Force = true, Repair = true, ThrottleLimit = throttleLimit,
        };
        return new BackfillPlan(request, days, known.LatestToday) { TenantToday = Todays(known) };
    }

    /// <summary>The rules a request must meet before the warehouse is asked anything.</summary>
    private static void Validate(BackfillRequest request)
    {
        if (request.ThrottleLimit is < 1 or > MaxThrottle)
            throw new WarehouseException("InvalidThrottleLimit", WhErrorKind.InvalidArgument,
                $"-ThrottleLimit must be between 1 and {MaxThrottle}; it was {request.ThrottleLimit}.", request.ThrottleLimit);
        DateRange.EnsureOrdered(request.From, request.To);
        if (request.From < EarliestDay)
            throw new WarehouseException("PreHistoryDateRange", WhErrorKind.InvalidArgument,
                $"The range starts on {request.From:yyyy-MM-dd}, before {EarliestDay:yyyy-MM-dd}: there is no food-waste data that old, and the run would create a view per day since then. Check -From.", request.From);
        if (request.Tenants.Count == 0 || request.Templates.Count == 0)
            throw new WarehouseException("NothingToLoad", WhErrorKind.InvalidArgument, "Give at least one tenant and one template.", null);
    }

    /// <summary>The days of a checked request, once the plan of its tenants, templates and days is known.</summary>
    private async Task<BackfillPlan> PlanAsync(NpgsqlConnection db, BackfillRequest request, DayPlan known, CancellationToken cancel)
    {
        known.EnsureTemplates();
        // "Today" is each tenant's, on its clock (its time zone), as the plan read it.
        foreach (var tenant in known.Tenants)
            if (request.To > tenant.Today)
                throw DateRange.InFuture("ends", request.To.Value, tenant.Today, $"the clock of tenant {tenant.Name}", ". Leave out -To to load up to today.");
        var latest = known.LatestToday;
        if (request.To is null && request.From > latest)
            throw DateRange.InFuture("starts", request.From, latest, "the tenants' clocks", ".");

        var days = new List<BackfillDay>();
        foreach (var tenant in known.Tenants)
        foreach (var template in request.Templates.Distinct())
        for (var date = request.From; date <= (request.To ?? tenant.Today); date = date.AddDays(1))
            days.Add(new BackfillDay(tenant.Name, tenant.ConnectionName, template, date, known.Exists(tenant.Name, template, date)));
        var plan = new BackfillPlan(request with { To = request.To ?? latest }, days, latest) { TenantToday = Todays(known) };
        await WarnAboutConnectionHeadroomAsync(db, plan, cancel);
        return plan;
    }

    private static Dictionary<string, DateOnly> Todays(DayPlan known) =>
        known.Tenants.ToDictionary(t => t.Name, t => t.Today, StringComparer.Ordinal);

    /// <summary>
    /// Warns before loading when the planned throttle cannot fit the free connection slots of the warehouse
    /// (ThrottleLimit workers + 1) or of a source server (one connection per worker on a tenant of that server, at
    /// most ThrottleLimit). A server whose slots cannot be read is said at Verbose and skipped: the days still run,
    /// and a refused connection is retried (TransientErrors) before the day fails.
    /// </summary>
    private async Task WarnAboutConnectionHeadroomAsync(NpgsqlConnection db, BackfillPlan plan, CancellationToken cancel)
    {
        var request = plan.Request;
        var work = plan.Days.Where(d => !plan.IsFinal(d)).ToList();
        if (work.Count == 0) return;
        var workers = Math.Min(request.ThrottleLimit, work.Count);
        var warehouse = await Warehouse.ConnectionHeadroom.ReadWarehouseAsync(db, cancel);
        if (warehouse.Free < workers + 1)
            logger.LogWarning("The warehouse has {Free} free connection slots for {Login} ({Sum}), but this backfill needs up to {Needed} at once ({Workers} workers + 1). " +
                "Days refused a connection are retried a few times, then fail. Lower -ThrottleLimit to {Fit}, close idle sessions, or raise max_connections on the warehouse (restart).",
                warehouse.Free, warehouse.Login, warehouse.Sum, workers + 1, workers, Math.Max(1, warehouse.Free - 1));

        var tenants = work.Select(d => d.Tenant).Distinct().ToArray();
        var servers = new List<(string Server, string Connection, int Tenants)>();
        await using (var command = Db.Command(db,
            """
            SELECT format('%s:%s', c.host, c.port), min(t.connection_name), count(*)::int
            FROM _wh.tenants t JOIN _wh.tenant_connections c ON c.tenant_name = t.connection_name
            WHERE t.schema_name = ANY(@t) GROUP BY c.host, c.port ORDER BY 1
            """, ("t", tenants)))
        await using (var reader = await command.ExecuteReaderAsync(cancel))
            while (await reader.ReadAsync(cancel)) servers.Add((reader.GetString(0), reader.GetString(1), reader.GetInt32(2)));
        foreach (var (server, connectionName, count) in servers)
        {
            var needed = Math.Min(workers, count);
            Warehouse.ConnectionHeadroom source;
            try
            {
                source = await Warehouse.ConnectionHeadroom.ReadSourceAsync(db, connectionName, server, cancel);
            }
            catch (PostgresException error)
            {
                logger.LogInformation("Could not read the free connection slots of the source server {Server} (through {Connection}): {Error}. Going on without.",
                    server, connectionName, error.MessageText);
                continue;
            }
            logger.LogInformation("Source server {Server}: {Free} free connection slots for {Login} ({Sum}); this backfill opens up to {Needed} at once.",
                server, source.Free, source.Login, source.Sum, needed);
            if (source.Free < needed)
                logger.LogWarning("The source server {Server} ({Count} tenant(s) of this backfill) has {Free} free connection slots for {Login} ({Sum}), but this backfill opens up to {Needed} at once (-ThrottleLimit {Throttle}). " +
                    "Days refused a connection are retried a few times, then fail. Lower -ThrottleLimit to {Fit}, or raise max_connections on that server (restart).",
                    server, count, source.Free, source.Login, source.Sum, needed, request.ThrottleLimit, Math.Max(1, source.Free));
        }
    }

    /// <summary>Runs the plan; yields each day's result as it finishes.</summary>
    public async IAsyncEnumerable<WhMvResult> RunAsync(BackfillPlan plan, [EnumeratorCancellation] CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var results = Channel.CreateUnbounded<WhMvResult>();
        var work = new List<BackfillDay>();
        foreach (var day in plan.Days)
        {
            // Closed days that exist are final: skipping them needs no round trip (-Force rebuilds them).
            if (plan.IsFinal(day))
                results.Writer.TryWrite(Result(day, MvAction.Skipped, null, TimeSpan.Zero, null) with { Note = WhMvResult.ClosedDayNote });
            else
                work.Add(day);
        }
        var queue = new TenantAffinityQueue(work);

        var refreshed = new ConcurrentBag<string>();
        await BeginWindowsAsync(work, cancel);
        var created = new ConcurrentDictionary<(string Tenant, string Template), int>();

        var workerCount = Math.Min(plan.Request.ThrottleLimit, Math.Max(1, queue.Count));
        var workers = Enumerable.Range(0, workerCount)
            .Select(_ => Task.Run(async () =>
            {
                // One connection per worker, reused from day to day (each day, or batch of days, its own transaction): a pooled
                // connection handed back after every day is reset (DISCARD ALL), which throws away every cached plan
                // of the _wh functions, and the next day plans them all again. The worker keeps to one tenant while it
                // has days (TenantAffinityQueue): its session then keeps one source connection, not one per tenant.
                var session = new WorkerSession();
                string? tenant = null;
                try
                {
                    while (!stop.IsCancellationRequested
                           && queue.TryTakeBatch(ref tenant, day => IsBatchable(day, plan), MaxBatchDays, workerCount, out var batch))
                    {
                        var done = batch.Count == 1
                            ? await RunDayAsync(batch[0], plan.Request, session, stop.Token) is { } one ? [one] : null
                            : await RunBatchAsync(batch, plan.Request, session, stop.Token);
                        if (done is null) return;
                        foreach (var result in done)
                        {
                            if (result.Action == MvAction.Refreshed) refreshed.Add(result.View);
                            if (result.Action == MvAction.Created) created.AddOrUpdate((result.Tenant, result.Template), 1, (_, n) => n + 1);
                            await results.Writer.WriteAsync(result, CancellationToken.None);
                        }
                    }
                }
                finally
                {
                    await session.CloseAsync();
                }
            }, CancellationToken.None))
            .ToList();
        _ = Task.WhenAll(workers).ContinueWith(_ => results.Writer.TryComplete(), TaskScheduler.Default);

        try
        {
            await foreach (var result in results.Reader.ReadAllAsync(cancel)) yield return result;
            // The warehouse itself went away: one error for the run, not one per day left.
            if (warehouseLost is { } lost) throw lost;
        }
        finally
        {
            // Whether the run ended, was cancelled, or the caller stopped reading: let in-flight days end
            // (cancelled ones roll back), then make the tenant and public views show every day that exists.
            stop.Cancel();
            try { await Task.WhenAll(workers); } catch (OperationCanceledException) { }
            // Every pair of the plan, not only those with new days: a run whose view rebuild was interrupted
            // (a killed connection, say) is finished by the next run even when all its days are skipped.
            await FinishWindowsAsync(plan.Days.GroupBy(d => (d.Tenant, d.Template))
                .Select(g => (g.Key.Tenant, g.Key.Template, To: g.Max(d => d.Date), Created: created.GetValueOrDefault(g.Key))).ToList());
            await AnalyzeAsync(refreshed.Distinct().Order().ToList());
        }
    }

    /// <summary>
    /// Fresh planner statistics for the days this run refreshed. A created or re-created day is analyzed by
    /// _wh.create_daily_view itself (pg_cron's path too); a REFRESH keeps the old statistics, so the refreshed days
    /// get one ANALYZE at the end, not one each.
    /// </summary>
    private async Task AnalyzeAsync(IReadOnlyList<string> views)
    {
        if (views.Count == 0) return;
        try
        {
            await using var db = await connection.DataSource.OpenConnectionAsync(CancellationToken.None);
            var names = views.Select(v => v.Split('.', 2)).Select(p => Db.Identifier(p[0]) + "." + Db.Identifier(p[1]));
            logger.LogInformation("Analyzing {Count} refreshed daily view(s)", views.Count);
            await Db.ExecuteAsync(db, "ANALYZE " + string.Join(", ", names), CancellationToken.None);
        }
        catch (Exception error) when (error is NpgsqlException or PostgresException)
        {
            logger.LogWarning("Could not analyze the refreshed daily views: {Error}. Run ANALYZE on them for fresh planner statistics.", error.Message);
        }
    }

    /// <summary>
    /// Begins each tenant's and template's window of days in SQL (<c>_wh.check_window</c>, what the SQL windows call
    /// too): the tenant registered, and the compacted table created first when more than compact_after_days closed
    /// days are about to be loaded, so every closed day goes straight into it.
    /// </summary>
    private async Task BeginWindowsAsync(IEnumerable<BackfillDay> days, CancellationToken cancel)
    {
        var windows = days.GroupBy(d => (d.Tenant, d.ConnectionName, d.Template))
            .Select(g => (g.Key.Tenant, g.Key.ConnectionName, g.Key.Template, From: g.Min(d => d.Date), To: g.Max(d => d.Date))).ToList();
        if (windows.Count == 0) return;
        try
        {
            await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
            foreach (var (tenant, connectionName, template, from, to) in windows)
                await Db.ExecuteAsync(db, "SELECT _wh.check_window(@t, @c, @s, @f, @e)", cancel,
                    ("t", template), ("c", connectionName), ("s", tenant), ("f", from), ("e", to));
        }
        catch (Exception error) when (error is NpgsqlException or PostgresException)
        {
            // Not fatal: the days are then created as materialized views and compacted as they go.
            logger.LogWarning("Could not begin the window of days in SQL (_wh.check_window): {Error}", error.Message);
        }
    }

    /// <summary>
    /// A worker's connection, kept while it is healthy. Closing it first closes the dblink connection its session
    /// keeps to a source: the warehouse session goes back to the pool, and would otherwise hold that source
    /// connection (a slot on the tenant's server) until the pool retires it.
    /// </summary>
    private sealed class WorkerSession
    {
        public NpgsqlConnection? Db;
        /// <summary>now() of the current day's transaction, once it began.</summary>
        public DateTime? TransactionStart;

        public bool IsOpen => Db?.State == System.Data.ConnectionState.Open;

        public async Task CloseAsync()
        {
            if (Db is null) return;
            if (IsOpen)
            {
                try { await PhoodWarehouse.Core.Db.ExecuteAsync(Db, "SELECT _wh.close_session_dblinks()", CancellationToken.None); }
                catch (Exception error) when (error is NpgsqlException or PostgresException) { /* a broken session: its links go with it */ }
            }
            await Db.DisposeAsync();
            Db = null;
        }
    }

    /// <summary>
    /// Sources that did not answer in this run (connection name -> why): their remaining days fail at once, naming
    /// it, instead of each waiting out the connect timeout again and holding a warehouse connection while it does.
    /// </summary>
    private readonly ConcurrentDictionary<string, string> notAnswering = new(StringComparer.Ordinal);

    /// <summary>Set when the warehouse connection was lost (a crash, a restart): the workers stop and the run ends with it.</summary>
    private WarehouseException? warehouseLost;

    /// <summary>
    /// The warehouse connection itself broke (not a source's: dblink reports those as a server error on a session that
    /// stays open): an I/O error, or the server shutting down or crashing.
    /// </summary>
    private static bool IsWarehouseLost(Exception error, WorkerSession session) =>
        error is PostgresException { SqlState: "57P01" or "57P02" }
        || (error is NpgsqlException and not PostgresException && !session.IsOpen);

    private WarehouseException LostWarehouse(Exception error) => new("WarehouseLost", WhErrorKind.ConnectionError,
        $"The connection to the warehouse {connection.Target} was lost during the backfill ({error.Message}), and it does not answer. " +
        "Every day already reported is committed; the days in flight were rolled back. When the warehouse is back, run the same command again: it loads only what is missing.",
        connection.Target, error);

    /// <summary>Whether the warehouse answers a new session within 10 s.</summary>
    private async Task<bool> WarehouseAnswersAsync()
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var db = await connection.DataSource.OpenConnectionAsync(bounded.Token);
            await Db.ScalarAsync<int>(db, "SELECT 1", bounded.Token);
            return true;
        }
        catch (Exception error) when (error is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether a day whose connection broke was committed all the same (its capture carries this attempt's transaction
    /// start): asked on a new connection; null when the warehouse cannot be asked.
    /// </summary>
    private async Task<bool?> CommittedDuringAsync(BackfillDay day, DateTime? transactionStart)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var db = await connection.DataSource.OpenConnectionAsync(bounded.Token);
            // The capture is stamped with its transaction's now(): equal to this attempt's start only if it committed.
            return transactionStart is { } start && await Db.ScalarAsync<bool>(db,
                """
                SELECT coalesce((SELECT s.captured_at = @start
                                 FROM _wh.day_state s WHERE s.schema_name = @s AND s.template_name = @t AND s.day = @d), false)
                """, bounded.Token, ("start", start), ("s", day.Tenant), ("t", day.Template), ("d", day.Date));
        }
        catch (Exception error) when (error is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return null;
        }
    }

    private async Task<WhMvResult?> RunDayAsync(BackfillDay day, BackfillRequest request, WorkerSession session, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        var view = DailyViewName.Qualified(day.Tenant, day.Template, day.Date);
        if (removedTenants.ContainsKey(day.Tenant))
            return Result(day, MvAction.Skipped, null, watch.Elapsed, null) with { Note = RemovedNote(day.Tenant) };
        if (notAnswering.TryGetValue(day.ConnectionName, out var why))
            return Result(day, MvAction.Failed, null, watch.Elapsed,
                $"Not loaded: the source of tenant '{day.Tenant}' (connection {day.ConnectionName}) did not answer earlier in this run ({why}). " +
                "Check that it runs and answers, then run the backfill again: it loads only what is missing.");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var (action, rows) = await LoadDayAsync(day, request, session, cancel);
                logger.LogInformation("{View}: {Action} ({Rows} rows, {Ms:0} ms)", view, action, rows, watch.Elapsed.TotalMilliseconds);
                return Result(day, action, rows, watch.Elapsed, null) with { Note = action == MvAction.Skipped ? WhMvResult.ClosedDayNote : null };
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                await session.CloseAsync();
                return null;
            }
            catch (TenantRemovedDuringRun)
            {
                if (removedTenants.TryAdd(day.Tenant, true))
                    logger.LogWarning("Tenant {Tenant} was removed while this backfill ran: its remaining days are not loaded.", day.Tenant);
                return Result(day, MvAction.Skipped, null, watch.Elapsed, null) with { Note = RemovedNote(day.Tenant) };
            }
            catch (Exception error)
            {
                // A server error leaves the connection usable; anything else (a killed backend, a network error) does not.
                if (error is not PostgresException || !session.IsOpen)
                    await session.CloseAsync();
                if (IsWarehouseLost(error, session) && !TransientErrors.IsTransient(error))
                {
                    // Its commit may have gone through before the connection broke: the warehouse says.
                    switch (await CommittedDuringAsync(day, session.TransactionStart))
                    {
                        case true:
                            logger.LogWarning("{View}: the connection to the warehouse broke after the day was committed: it is loaded", view);
                            return Result(day, day.Exists ? (request.Force ? MvAction.Recreated : MvAction.Refreshed) : MvAction.Created, null, watch.Elapsed, null);
                        case null:
                            Interlocked.CompareExchange(ref warehouseLost, LostWarehouse(error), null);
                            return null;
                    }
                }
                // A source connection that broke (class 08, reported by dblink over a warehouse session still open) may be
                // the warehouse going down with it (a crash; a source on the same server): the warehouse is asked first,
                // so that its loss is the run's one error, not a failed day.
                if (error is PostgresException { SqlState: var state } && state.StartsWith("08", StringComparison.Ordinal)
                    && !TransientErrors.IsTransient(error) && !await WarehouseAnswersAsync())
                {
                    await session.CloseAsync();
                    Interlocked.CompareExchange(ref warehouseLost, LostWarehouse(error), null);
                    return null;
                }
                var message = DatabaseErrors.Translate(error, view).Message;
                if (TransientErrors.IsTransient(error) && attempt < TransientErrors.Attempts)
                {
                    // No free connection slot (here or on the source), a server starting up, a serialization failure or
                    // a deadlock: the same day again after a short wait, as _wh.update_mv_day_isolated does for pg_cron.
                    var pause = TransientErrors.DelayAfter(attempt);
                    logger.LogInformation("{View}: attempt {Attempt} of {Attempts} failed with a transient error, trying again in {Seconds:0.00} s: {Error}",
                        view, attempt, TransientErrors.Attempts, pause.TotalSeconds, message);
                    try { await Task.Delay(pause, cancel); }
                    catch (OperationCanceledException)
                    {
                        await session.CloseAsync();
                        return null;
                    }
                    continue;
                }
                if (Tenants.SourceProbe.IsNotAnswering(error) && notAnswering.TryAdd(day.ConnectionName, message))
                    logger.LogWarning("The source of tenant {Tenant} (connection {Connection}) does not answer: its other days in this run are not tried. {Error}",
                        day.Tenant, day.ConnectionName, message);
                if (error is PostgresException { SqlState: "57014" } && request.DayTimeout is { } limit)
                    message = $"The day took longer than the per-day timeout ({limit.TotalSeconds:0.#} s) and was cancelled: {message}";
                if (attempt > 1) message += $" ({attempt} attempts)";
                logger.LogWarning("{View} failed: {Error}", view, message);
                await RecordFailureAsync(day, message, (error as PostgresException)?.SqlState, session);
                return Result(day, MvAction.Failed, null, watch.Elapsed, message);
            }
        }
    }

    /// <summary>The most closed days a worker loads in one transaction (<c>_wh.load_closed_days</c>).</summary>
    private const int MaxBatchDays = 16;

    /// <summary>
    /// A day that can go with others in one transaction: a closed day not loaded yet, in a run that neither repairs nor
    /// bounds each day's time (-DayTimeout holds per day). Whether it really is new and closed is the SQL's to say.
    /// </summary>
    private static bool IsBatchable(BackfillDay day, BackfillPlan plan) =>
        !day.Exists && !plan.Request.Repair && plan.Request.DayTimeout is null && plan.IsClosed(day);

    /// <summary>
    /// Closed days of one tenant and template in one transaction (<c>_wh.load_closed_days</c>: one statement loads them
    /// all into &lt;template&gt;_closed), which saves each day's own transaction, calls and remote query set-up. All or
    /// nothing: when the batch fails for any reason, its days are loaded one at a time (<see cref="RunDayAsync"/>), so
    /// that each day gets its own outcome, retries and error, exactly as without batches. Null when the run stops.
    /// </summary>
    private async Task<List<WhMvResult>?> RunBatchAsync(List<BackfillDay> batch, BackfillRequest request, WorkerSession session, CancellationToken cancel)
    {
        var first = batch[0];
        if (!removedTenants.ContainsKey(first.Tenant) && !notAnswering.ContainsKey(first.ConnectionName))
        {
            var watch = Stopwatch.StartNew();
            try
            {
                session.Db ??= await connection.DataSource.OpenConnectionAsync(cancel);
                List<string> outcomes;
                await using (var transaction = await session.Db.BeginTransactionAsync(cancel))
                {
                    if (!await Db.ScalarAsync<bool>(session.Db, "SELECT _wh.hold_registered_tenant(@schema)", cancel, ("schema", first.Tenant)))
                        throw new TenantRemovedDuringRun();
                    outcomes = await Db.ReadAllAsync(session.Db,
                        "SELECT d::text FROM _wh.load_closed_days(@template, @connection, @schema, @days) AS d",
                        reader => reader.GetString(0), cancel,
                        ("template", first.Template), ("connection", first.ConnectionName), ("schema", first.Tenant),
                        ("days", batch.Select(d => d.Date).ToArray()));
                    await transaction.CommitAsync(cancel);
                }
                var byDate = outcomes.ToDictionary(DateOf, ParseOutcome, StringComparer.Ordinal);
                var share = watch.Elapsed / batch.Count;
                return batch.Select(day =>
                {
                    var (action, rows) = byDate[day.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)];
                    logger.LogInformation("{View}: {Action} ({Rows} rows, {Ms:0} ms, in a batch of {Count} days)",
                        DailyViewName.Qualified(day.Tenant, day.Template, day.Date), action, rows, share.TotalMilliseconds, batch.Count);
                    return Result(day, action, rows, share, null) with { Note = action == MvAction.Skipped ? WhMvResult.ClosedDayNote : null };
                }).ToList();
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                await session.CloseAsync();
                return null;
            }
            catch (Exception error)
            {
                if (error is not PostgresException || !session.IsOpen)
                    await session.CloseAsync();
                logger.LogDebug("A batch of {Count} days of {Tenant} ({Template}) from {From} failed, loading them one at a time: {Error}",
                    batch.Count, first.Tenant, first.Template, first.Date, error.Message);
            }
        }
        var results = new List<WhMvResult>();
        foreach (var day in batch)
        {
            if (await RunDayAsync(day, request, session, cancel) is not { } result) return null;
            results.Add(result);
        }
        return results;
    }

    /// <summary>One attempt at one day over the worker's session (opened when it has none).</summary>
    private async Task<(MvAction Action, long? Rows)> LoadDayAsync(BackfillDay day, BackfillRequest request, WorkerSession session, CancellationToken cancel)
    {
        session.Db ??= await connection.DataSource.OpenConnectionAsync(cancel);
        // -DayTimeout holds for this day's transaction only (set_config's is_local): through a pooler in transaction
        // mode, a session setting would stay on the server connection and cancel another client's statement.
        await using var transaction = await session.Db.BeginTransactionAsync(cancel);
        // The transaction's start on the warehouse's clock: the day's capture is stamped with it (_wh.now()), which is
        // how a day whose connection broke at its commit is known to be committed all the same.
        session.TransactionStart = null;
        session.TransactionStart = await Db.ScalarAsync<DateTime>(session.Db,
            "SELECT pg_catalog.now(), CASE WHEN @t::text IS NOT NULL THEN pg_catalog.set_config('statement_timeout', @t, true) END", cancel,
            ("t", request.DayTimeout is { } timeout ? $"{(int)timeout.TotalMilliseconds}ms" : null));
        // The tenant's registration is held for the day's transaction (a removal waits for the day in flight); a
        // tenant removed during the run answers null here, and the day is not loaded (nor the tenant registered again).
        // A repair goes through _wh.repair_day (force, and the 'repaired' row in the same transaction), as the scheduled
        // refresh's repairs do.
        var json = request.Repair
            ? await Db.ScalarAsync<string?>(session.Db,
                """
                SELECT CASE WHEN _wh.hold_registered_tenant(@schema)
                            THEN _wh.repair_day(@template, @connection, @schema, @date)::text END
                """,
                cancel, ("template", day.Template), ("connection", day.ConnectionName), ("schema", day.Tenant), ("date", day.Date))
            : await Db.ScalarAsync<string?>(session.Db,
                """
                SELECT CASE WHEN _wh.hold_registered_tenant(@schema)
                            THEN _wh.update_mv_by_template(@template, @connection, @schema, @date, true, @force, false)::text END
                """,
                cancel, ("template", day.Template), ("connection", day.ConnectionName), ("schema", day.Tenant),
                ("date", day.Date), ("force", request.Force && day.Exists));
        await transaction.CommitAsync(cancel);
        if (json is null) throw new TenantRemovedDuringRun();
        return ParseOutcome(json);
    }

    /// <summary>The day's tenant is no longer registered: removed (Remove-WhTenant) while the backfill ran.</summary>
    private sealed class TenantRemovedDuringRun : Exception;

    /// <summary>Tenants removed while this run went on: their remaining days are skipped, saying so.</summary>
    private readonly ConcurrentDictionary<string, bool> removedTenants = new(StringComparer.Ordinal);

    private static string RemovedNote(string tenant) =>
        $"Not loaded: tenant '{tenant}' was removed (Remove-WhTenant) while this backfill ran. Nothing is left to do; to load it again, add it with New-WhTenant and run the backfill.";

    /// <summary>
    /// Records a failed day in the run log over the worker's own session when it is open (a worker holds one
    /// warehouse connection, not two), else over a pooled one.
    /// </summary>
    private async Task RecordFailureAsync(BackfillDay day, string message, string? sqlState, WorkerSession session)
    {
        try
        {
            await using var own = session.IsOpen ? null : await connection.DataSource.OpenConnectionAsync(CancellationToken.None);
            await Db.ExecuteAsync(own ?? session.Db!, "SELECT _wh.log_failure(@t, @c, @s, @d, @e, @q)", CancellationToken.None,
                ("t", day.Template), ("c", day.ConnectionName), ("s", day.Tenant), ("d", day.Date), ("e", message), ("q", sqlState));
        }
        catch (Exception error) when (error is NpgsqlException or PostgresException)
        {
            logger.LogDebug("Could not record the failure of {Tenant} {Date} in the run log: {Error}", day.Tenant, day.Date, error.Message);
        }
    }

    /// <summary>
    /// Finishes each window in SQL (<c>_wh.finish_window</c>, the rule pg_cron and psql follow too): closed days left
    /// as materialized views are compacted, and the tenant and public views are rebuilt only when they do not read
    /// their members yet (a new tenant, an interrupted run); days themselves are rows, so nothing else is rebuilt.
    /// </summary>
    private async Task FinishWindowsAsync(IReadOnlyList<(string Tenant, string Template, DateOnly To, int Created)> windows)
    {
        try
        {
            await using var db = await connection.DataSource.OpenConnectionAsync(CancellationToken.None);
            // A tenant removed during the run has no views left to finish (finish_window would make them again).
            foreach (var (tenant, template, to, created) in windows.Where(w => !removedTenants.ContainsKey(w.Tenant)).OrderBy(w => w.Tenant).ThenBy(w => w.Template))
            {
                logger.LogInformation("Finishing the window of {Tenant}.{Template}", tenant, template);
                var summary = await Db.ScalarAsync<string>(db,
                    "SELECT _wh.finish_window(@t, @s, @e, _wh.empty_summary() || jsonb_build_object('created', @n))::text", CancellationToken.None,
                    ("t", template), ("s", tenant), ("e", to), ("n", created));
                using var document = JsonDocument.Parse(summary ?? "{}");
                foreach (var failure in document.RootElement.GetProperty("failures").EnumerateArray())
                    logger.LogWarning("Could not finish the views of {Tenant}.{Template}: {Error}. Run Update-WhUnionView (or the backfill again) to finish.",
                        tenant, template, failure.GetProperty("error").GetString());
            }
        }
        catch (Exception error) when (error is NpgsqlException or PostgresException)
        {
            logger.LogWarning("Could not finish the tenant and public views: {Error}. Run Update-WhUnionView (or the backfill again) to finish.", error.Message);
        }
    }

    /// <summary>The "date" of a day's outcome (yyyy-MM-dd).</summary>
    private static string DateOf(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("date").GetString()!;
    }

    private static (MvAction Action, long? Rows) ParseOutcome(string? json)
    {
        using var document = JsonDocument.Parse(json ?? "{}");
        var root = document.RootElement;
        var action = root.TryGetProperty("action", out var a) ? a.GetString() : null;
        long? rows = root.TryGetProperty("rows", out var r) && r.ValueKind == JsonValueKind.Number ? r.GetInt64() : null;
        return (action switch
        {
            "created" => MvAction.Created,
            "refreshed" => MvAction.Refreshed,
            "recreated" => MvAction.Recreated,
            "skipped" => MvAction.Skipped,
            _ => MvAction.Failed,
        }, rows);
    }

    private static WhMvResult Result(BackfillDay day, MvAction action, long? rows, TimeSpan duration, string? error) => new()
    {
        Tenant = day.Tenant,
        Template = day.Template,
        Date = day.Date.ToDateTime(TimeOnly.MinValue),
        Action = action,
        Rows = rows,
        Duration = duration,
        Error = error,
        View = DailyViewName.Qualified(day.Tenant, day.Template, day.Date),
    };
}
