using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>Tenant schemas, tenant views and public views the design needs.</summary>
internal sealed class ViewsCheck : HealthCheck
{
    public override string Name => HealthCheckNames.Views;

    /// <summary>
    /// The objects the design needs and BI reads: every registered tenant's schema, each tenant view of a template the
    /// tenant has days of, and the public view of every template some tenant view exists for; each missing one with the
    /// command that restores it (the guide's DROP SCHEMA ... CASCADE takes the public views with it).
    /// </summary>
    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var missing = await Db.ReadAllAsync(db,
            """
            SELECT 1, t.schema_name, format('the schema of tenant %s is gone (dropped by hand?): Remove-WhTenant %s finishes its removal, or New-WhTenant makes it again', t.schema_name, t.schema_name)
            FROM _wh.tenants t WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = t.schema_name)
            UNION ALL
            SELECT 2, d.schema_name || '.' || d.template_name, format('the tenant view %I.%I is missing: Update-WhUnionView -Tenant %s -Template %s', d.schema_name, d.template_name, d.schema_name, d.template_name)
            -- the catalog's join-free base, aggregated first (as _wh.freshness does): one row per schema and template
            FROM (SELECT n.nspname::text AS schema_name, r.template_name
                  FROM (SELECT DISTINCT r.relnamespace, r.template_name FROM _wh.daily_relations r) r
                  JOIN pg_namespace n ON n.oid = r.relnamespace
                  JOIN _wh.tenants t ON t.schema_name = n.nspname
                  JOIN _wh.mv_templates m ON m.template_name = r.template_name) d
            WHERE to_regclass(format('%I.%I', d.schema_name, d.template_name)) IS NULL
            UNION ALL
            SELECT 3, 'public.' || m.template_name, format('the cross-tenant view public.%I is missing: Update-WhUnionView -Public -Template %s', m.template_name, m.template_name)
            FROM _wh.mv_templates m
            WHERE to_regclass(format('public.%I', m.template_name)) IS NULL
              AND EXISTS (SELECT 1 FROM _wh.tenants t WHERE to_regclass(format('%I.%I', t.schema_name, m.template_name)) IS NOT NULL)
            ORDER BY 1, 2
            """, r => (Target: r.GetString(1), Message: r.GetString(2)), cancel);
        const string threshold = "every tenant schema, tenant view and public view the tenants need";
        if (missing.Count == 0) return [Ok(HealthCheckNames.Views, "all present", threshold, "Every tenant schema, tenant view and public view is there.")];
        return missing.Select(m => new WhHealthCheck
        {
            Check = HealthCheckNames.Views, Status = WhHealthStatus.Critical, Target = m.Target, Value = "missing", Threshold = threshold,
            Message = char.ToUpperInvariant(m.Message[0]) + m.Message[1..] + ".",
        }).ToList();
    }
}
