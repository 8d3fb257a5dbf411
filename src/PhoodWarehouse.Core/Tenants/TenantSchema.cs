using Npgsql;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// The guide's "Create Tenant Schema" step done right: whadmin owns the schema; phood_ro may read it,
/// including every view whadmin creates there later (default privileges FOR ROLE whadmin: the guide's
/// ALTER DEFAULT PRIVILEGES without FOR ROLE only covers objects the postgres user creates).
/// </summary>
internal static class TenantSchema
{
    public static async Task CreateAsync(NpgsqlConnection db, string schema, string connectionName, string clientName, CancellationToken cancel)
    {
        var name = Db.Identifier(schema);
        await Db.ExecuteAsync(db, $"CREATE SCHEMA {name}", cancel);
        await Db.ExecuteAsync(db, $"GRANT USAGE ON SCHEMA {name} TO phood_ro", cancel);
        await Db.ExecuteAsync(db, $"ALTER DEFAULT PRIVILEGES FOR ROLE whadmin IN SCHEMA {name} GRANT SELECT ON TABLES TO phood_ro", cancel);
        await Db.ExecuteAsync(db,
            "INSERT INTO _wh.tenants (schema_name, connection_name, client_name) VALUES (@s, @c, @n)",
            cancel, ("s", schema), ("c", connectionName), ("n", clientName));
    }
}

/// <summary>The tenant and public UNION ALL views, rebuilt by the SQL layer's functions (the same ones psql and pg_cron use).</summary>
internal static class UnionViews
{
    public static Task RebuildTenantAsync(NpgsqlConnection db, string template, string connectionName, string schema, CancellationToken cancel) =>
        Db.ExecuteAsync(db, "SELECT _wh.update_tenant_union_view_by_template(@t, @c, @s)", cancel,
            ("t", template), ("c", connectionName), ("s", schema));

    public static Task RebuildPublicAsync(NpgsqlConnection db, string template, CancellationToken cancel) =>
        Db.ExecuteAsync(db, "SELECT _wh.update_public_view_by_template(@t)", cancel, ("t", template));
}
