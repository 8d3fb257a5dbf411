using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Each tenant's size, with its daily views counted by the freshness engine.</summary>
internal sealed class TenantSizeCheck : HealthCheck
{
    public override string Name => HealthCheckNames.TenantSize;
    public override bool NeedsFreshness => true;

    /// <summary>
    /// Each tenant's data and index sizes, from its tables and materialized views (daily views over the compacted table
    /// take no space), with its daily views (both kinds) counted by the freshness engine.
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var limits = reading.Limits;
        var sizes = await Db.ReadAllAsync(reading.Db,
            """
            SELECT t.schema_name, coalesce(sum(pg_table_size(c.oid)), 0)::bigint, coalesce(sum(pg_indexes_size(c.oid)), 0)::bigint
            FROM _wh.tenants t
            LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('m', 'r')
            GROUP BY t.schema_name ORDER BY t.schema_name
            """, r => (Tenant: r.GetString(0), Data: r.GetInt64(1), Indexes: r.GetInt64(2)), cancel);
        var views = (await reading.Freshness!).GroupBy(f => f.Tenant).ToDictionary(g => g.Key, g => g.Sum(f => f.DailyViewCount));
        var rows = sizes.Select(t => (t.Tenant, t.Data, t.Indexes, Views: views.GetValueOrDefault(t.Tenant))).ToList();
        if (rows.Count == 0)
            return [Ok(HealthCheckNames.TenantSize, "no tenants", $"warning {limits.TenantSizeWarningGB} GB per tenant", "No tenants yet: New-WhTenant adds one.")];
        return rows.Select(t =>
        {
            var over = t.Data + t.Indexes >= limits.TenantSizeWarningGB * GB;
            return new WhHealthCheck
            {
                Check = HealthCheckNames.TenantSize, Target = t.Tenant,
                Status = over ? WhHealthStatus.Warning : WhHealthStatus.Ok,
                Value = $"{Size(t.Data + t.Indexes)} (data {Size(t.Data)}, indexes {Size(t.Indexes)}, {t.Views} daily views)",
                Threshold = $"warning {limits.TenantSizeWarningGB} GB",
                Message = over
                    ? $"Tenant {t.Tenant} is large: drop its daily views older than you report on, or review the template's indexes."
                    : "Within limits.",
            };
        }).ToList();
    }
}
