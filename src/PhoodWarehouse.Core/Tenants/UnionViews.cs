namespace PhoodWarehouse.Core.Tenants;

/// <summary>The tenant and public UNION ALL views, rebuilt by the SQL layer's functions (the same ones psql and pg_cron use).</summary>
internal static class UnionViews
{
    public static Task RebuildTenantAsync(NpgsqlConnection db, string template, string connectionName, string schema, CancellationToken cancel) =>
        Db.ExecuteAsync(db, "SELECT _wh.update_tenant_union_view_by_template(@t, @c, @s)", cancel,
            ("t", template), ("c", connectionName), ("s", schema));

    public static Task RebuildPublicAsync(NpgsqlConnection db, string template, CancellationToken cancel) =>
        Db.ExecuteAsync(db, "SELECT _wh.update_public_view_by_template(@t)", cancel, ("t", template));
}
