using System.Text.Json;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>Which days of one tenant's template to drop: one date, or every date before a cut-off.</summary>
public sealed record RetentionRequest
{
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    /// <summary>Exactly this day.</summary>
    public DateOnly? Date { get; init; }
    /// <summary>Every day strictly before this one.</summary>
    public DateOnly? Before { get; init; }

    internal (DateOnly? Start, DateOnly End) Range => Date is { } d ? (d, d) : (null, Before!.Value.AddDays(-1));
}

/// <summary>
/// Retention (the guide's "Clean Up Old Materialized Views"): drops daily views and rebuilds the tenant view (and
/// the public view when needed) in the same transaction, through <c>_wh.drop_mv_range_by_template</c>, which a cron
/// job can call too. Each drop is logged as 'dropped' in the run log.
/// </summary>
public sealed class DailyViewRetention(WhConnection connection, ILogger logger)
{
    /// <summary>The views the request would drop (for -WhatIf and confirmation); validates the request first.</summary>
    public async Task<IReadOnlyList<WhMv>> PlanAsync(RetentionRequest request, CancellationToken cancel)
    {
        Tenants.TenantName.Validate(request.Tenant);
        if ((request.Date is null) == (request.Before is null))
            throw new WarehouseException("InvalidDateRange", WhErrorKind.InvalidArgument, "Give either -Date or -Before.", request);
        await EnsureKnownAsync(request.Tenant, request.Template, cancel);
        var (start, end) = request.Range;
        return await new DailyViewCatalog(connection, logger).ListAsync(new DailyViewQuery
        {
            Tenants = [new NamePattern(request.Tenant)], Templates = [new NamePattern(request.Template)], From = start, To = end,
        }, cancel);
    }

    /// <summary>Drops the views in one transaction; returns what was dropped.</summary>
    public async Task<IReadOnlyList<WhMv>> DropAsync(RetentionRequest request, CancellationToken cancel)
    {
        var planned = await PlanAsync(request, cancel);
        if (planned.Count == 0) return planned;
        var (start, end) = request.Range;
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        logger.LogInformation("Dropping {Count} daily views of {Tenant}.{Template} and rebuilding its tenant view", planned.Count, request.Tenant, request.Template);
        var json = await Db.ScalarAsync<string>(db, "SELECT _wh.drop_mv_range_by_template(@t, @s, @a, @b)::text", cancel,
            ("t", request.Template), ("s", request.Tenant), ("a", (object?)start ?? DBNull.Value), ("b", end));
        await transaction.CommitAsync(cancel);
        using var summary = JsonDocument.Parse(json!);
        var dropped = summary.RootElement.GetProperty("dropped").EnumerateArray()
            .Select(e => e.GetProperty("view").GetString()!).ToHashSet();
        return planned.Where(v => dropped.Contains(v.View)).ToList();
    }

    /// <summary>TenantNotFound or TemplateNotFound, as the plan of days answers them.</summary>
    internal async Task EnsureKnownAsync(string tenant, string template, CancellationToken cancel) =>
        (await DayPlanner.PlanAsync(connection, [tenant], [template], null, null, cancel)).EnsureTemplates();
}
