using System.Text.Json;

namespace PhoodWarehouse.Core.DailyViews;

/// <summary>Rebuilds tenant and public union views (the guide's troubleshooting #4) through the SQL layer's functions.</summary>
public sealed class UnionViewBuilder(WhConnection connection, ILogger logger)
{
    public async Task<WhUnionView> RebuildTenantAsync(string tenant, string template, CancellationToken cancel)
    {
        Tenants.TenantName.Validate(tenant);
        await new DailyViewRetention(connection, logger).EnsureKnownAsync(tenant, template, cancel);
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        logger.LogInformation("Rebuilding {Tenant}.{Template}", tenant, template);
        var view = await Db.ScalarAsync<string>(db,
            "SELECT _wh.update_tenant_union_view_by_template(@t, (SELECT connection_name FROM _wh.tenants WHERE schema_name = @s), @s)",
            cancel, ("t", template), ("s", tenant));
        var count = await Db.ScalarAsync<long>(db,
            "SELECT count(*) FROM _wh.daily_views WHERE schema_name = @s AND template_name = @t",
            cancel, ("s", tenant), ("t", template));
        await transaction.CommitAsync(cancel);
        return new WhUnionView(view!, template, tenant, (int)count);
    }

    public async Task<WhUnionView> RebuildPublicAsync(string template, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        (await DayPlanner.PlanAsync(db, [], [template], null, null, cancel)).EnsureTemplates();
        await using var transaction = await Db.BeginAsWhadminAsync(db, connection, cancel);
        logger.LogInformation("Rebuilding public.{Template}", template);
        var view = await Db.ScalarAsync<string>(db, "SELECT _wh.update_public_view_by_template(@t)", cancel, ("t", template));
        var count = await Db.ScalarAsync<long>(db,
            """
            SELECT count(*) FROM _wh.daily_views WHERE template_name = @t
            """, cancel, ("t", template));
        await transaction.CommitAsync(cancel);
        return new WhUnionView(view!, template, null, (int)count);
    }
}
