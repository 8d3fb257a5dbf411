namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Who may do what (whadmin, phood_ro, a plain login, PUBLIC), that no role but whadmin can reach a tenant password,
/// and that rotating it through _wh.tenant_connections makes existing daily views refresh again without re-creating them.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class RolesAndSecretsTests(PostgresServer server)
{
    private const string PlainPassword = "plain pw'1";
    private const string RotatedPassword = "R0t'ated pa\\ss;=ö-secret";
    private static readonly Once<Env> Shared = new();

    private sealed record Env(SharedWarehouse Warehouse, string Schema, string PlainUser);

    private Task<Env> EnvAsync() => Shared.Get(async () =>
    {
        var warehouse = await SharedWarehouse.CreateAsync(server, days: 3, rowsPerDay: 15);
        var schema = PostgresServer.UniqueName("sec");
        var plain = PostgresServer.UniqueName("plain");
        await using (var admin = await SqlKit.OpenAsync(server, "postgres"))
            await admin.ExecAsync($"CREATE ROLE {plain} LOGIN PASSWORD '{PlainPassword.Replace("'", "''")}'");
        // PUBLIC has no CONNECT (finding 5): this login got it explicitly, to show that connecting alone reads nothing.
        await using (var admin = await SqlKit.OpenAsync(server, warehouse.Database))
            await admin.ExecAsync($"GRANT CONNECT ON DATABASE \"{warehouse.Database}\" TO {plain}");
        await using var wh = await SqlKit.OpenAsync(server, warehouse.Database, "whadmin");
        await wh.ExecAsync("SELECT _wh.update_mv_window_by_template('foodlogstats', $1, $2, CURRENT_DATE - 2, CURRENT_DATE - 1)",
            warehouse.Connection, schema);
        return new Env(warehouse, schema, plain);
    });

    private Task<NpgsqlConnection> OpenAsAsync(Env env, string role) =>
        role == env.PlainUser
            ? SqlKit.OpenAsync(server, env.Warehouse.Database, role, PlainPassword)
            : SqlKit.OpenAsync(server, env.Warehouse.Database, role);

    private IEnumerable<string> ForbiddenForReaders(Env env) =>
    [
        "SELECT * FROM _wh.tenant_connections",
        "SELECT * FROM _wh.run_log",
        "SELECT * FROM _wh.mv_templates",
        "SELECT * FROM _wh.tenants",
        "INSERT INTO _wh.tenant_connections (tenant_name, host, dbname, username) VALUES ('x', 'h', 'd', 'u')",
        "UPDATE _wh.tenant_connections SET password = 'x'",
        "SELECT _wh.create_mv_name('foodlogstats', CURRENT_DATE)",
        "SELECT _wh.get_tenant_connection_string('" + env.Warehouse.Connection + "')",
        "SELECT _wh.update_mv_by_template('foodlogstats', '" + env.Warehouse.Connection + "', '" + env.Schema + "', CURRENT_DATE)",
        "SELECT _wh.update_public_view_by_template('foodlogstats')",
        "SELECT _wh.remove_tenant('" + env.Schema + "')",
        "CALL _wh.run_mv_window_by_template('foodlogstats', '" + env.Warehouse.Connection + "', '" + env.Schema + "', CURRENT_DATE, CURRENT_DATE)",
        "SELECT * FROM public.dblink('wh_" + env.Warehouse.Connection + "', 'SELECT 1') AS t(x int)",
        "SELECT public.dblink_connect('c', 'wh_" + env.Warehouse.Connection + "')",
        "CREATE TABLE public.intruder (x int)",
        "CREATE VIEW public.intruder AS SELECT 1 AS x",
        "CREATE TEMP TABLE intruder (x int)",
        "CREATE SCHEMA intruder",
        "CREATE TABLE " + env.Schema + ".intruder (x int)",
        "REFRESH MATERIALIZED VIEW " + env.Schema + "." + SqlKit.ViewName("foodlogstats", SqlKit.Today(server).AddDays(-1)),
        "DROP VIEW public.foodlogstats",
        "CREATE SERVER intruder FOREIGN DATA WRAPPER dblink_fdw",
    ];

    [Fact]
    public async Task Phood_ro_reads_every_view_including_later_ones_and_can_do_nothing_else()
    {
        var env = await EnvAsync();
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Warehouse.Database));
        await using var ro = await OpenAsAsync(env, "phood_ro");
        foreach (var sql in ForbiddenForReaders(env)) await ro.FailsAsync(sql, [SqlKit.InsufficientPrivilege]);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Warehouse.Database)));

        var twoDays = await SqlKit.SourceRowsAsync(server, env.Warehouse.Source, SqlKit.Today(server).AddDays(-2), SqlKit.Today(server).AddDays(-1));
        Assert.Equal(twoDays, await ro.ScalarAsync<long>($"SELECT count(*) FROM {env.Schema}.foodlogstats"));
        Assert.Equal(twoDays, await ro.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", env.Schema));
        Assert.Equal(15L, await ro.ScalarAsync<long>(
            $"SELECT count(*) FROM {env.Schema}.{SqlKit.ViewName("foodlogstats", SqlKit.Today(server).AddDays(-2))}"));

        // A day, a tenant and a template view created after phood_ro connected are readable too.
        var later = PostgresServer.UniqueName("sec_later");
        await using (var wh = await SqlKit.OpenAsync(server, env.Warehouse.Database, "whadmin"))
        {
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE)", env.Warehouse.Connection, env.Schema);
            await wh.ExecAsync("SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE)", env.Warehouse.Connection, later);
        }
        Assert.Equal(15L, await ro.ScalarAsync<long>($"SELECT count(*) FROM {env.Schema}.{SqlKit.ViewName("foodlogstats", SqlKit.Today(server))}"));
        Assert.Equal(15L, await ro.ScalarAsync<long>($"SELECT count(*) FROM {later}.foodlogstats"));
        Assert.Equal(15L, await ro.ScalarAsync<long>("SELECT count(*) FROM public.foodlogstats WHERE client = $1", later));
    }

    [Fact]
    public async Task A_login_with_no_grants_cannot_connect_to_the_warehouse_and_the_warehouse_roles_can()
    {
        var env = await EnvAsync();
        var stranger = PostgresServer.UniqueName("stranger");
        await using (var admin = await SqlKit.OpenAsync(server, "postgres"))
            await admin.ExecAsync($"CREATE ROLE {stranger} LOGIN PASSWORD '{PlainPassword.Replace("'", "''")}'");
        var refused = await Assert.ThrowsAsync<PostgresException>(() => SqlKit.OpenAsync(server, env.Warehouse.Database, stranger, PlainPassword));
        Assert.Equal("42501", refused.SqlState);
        Assert.Contains("permission denied for database", refused.MessageText);
        // Elsewhere on the server it still connects: only the warehouse database is closed to PUBLIC.
        await using (var elsewhere = await SqlKit.OpenAsync(server, "postgres", stranger, PlainPassword))
            Assert.Equal(1, await elsewhere.ScalarAsync<int>("SELECT 1"));
        foreach (var role in new[] { "whadmin", "phood_ro" })
        {
            await using var db = await SqlKit.OpenAsync(server, env.Warehouse.Database, role);
            Assert.Equal(1, await db.ScalarAsync<int>("SELECT 1"));
        }
    }

    [Fact]
    public async Task A_plain_login_reads_no_warehouse_data_and_can_do_nothing()
    {
        var env = await EnvAsync();
        var before = await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Warehouse.Database));
        await using var plain = await OpenAsAsync(env, env.PlainUser);
        var forbidden = ForbiddenForReaders(env).Concat(
        [
            $"SELECT count(*) FROM {env.Schema}.foodlogstats",
            $"SELECT count(*) FROM {env.Schema}.{SqlKit.ViewName("foodlogstats", SqlKit.Today(server).AddDays(-2))}",
            "SELECT count(*) FROM public.foodlogstats",
        ]);
        foreach (var sql in forbidden) await plain.FailsAsync(sql, [SqlKit.InsufficientPrivilege]);
        Assert.Equal(before, await CatalogSnapshot.TakeAsync(server.ConnectionString(env.Warehouse.Database)));
    }

    [Fact]
    public async Task Privilege_matrix_for_public_phood_ro_and_whadmin()
    {
        var env = await EnvAsync();
        await using var su = await SqlKit.OpenAsync(server, env.Warehouse.Database);
        foreach (var role in new[] { "public", "phood_ro", env.PlainUser })
        {
            var leaks = await su.ColumnAsync(
                """
                SELECT 'schema _wh' WHERE has_schema_privilege($1, '_wh', 'USAGE')
                UNION ALL SELECT 'CREATE on public' WHERE has_schema_privilege($1, 'public', 'CREATE')
                UNION ALL SELECT 'TEMP on database' WHERE has_database_privilege($1, current_database(), 'TEMP')
                UNION ALL SELECT 'CREATE on database' WHERE has_database_privilege($1, current_database(), 'CREATE')
                UNION ALL SELECT 'dblink_fdw' WHERE has_foreign_data_wrapper_privilege($1, 'dblink_fdw', 'USAGE')
                UNION ALL SELECT 'execute ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE (n.nspname = '_wh' OR p.proname LIKE 'dblink%') AND has_function_privilege($1, p.oid, 'EXECUTE')
                UNION ALL SELECT 'table ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = '_wh' AND c.relkind IN ('r', 'S', 'v', 'm')
                    AND has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
                UNION ALL SELECT 'server ' || srvname FROM pg_foreign_server WHERE has_server_privilege($1, oid, 'USAGE')
                UNION ALL SELECT 'write ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname IN ('public', $2) AND c.relkind IN ('r', 'v', 'm')
                    AND has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                """, role, env.Schema);
            Assert.True(leaks.Count == 0, $"{role}: {string.Join(", ", leaks)}");
        }

        // phood_ro reads the tenant schema and every view in it and in public; PUBLIC and the plain login do not.
        const string ReadSql =
            """
            SELECT bool_and(has_table_privilege($1, c.oid, 'SELECT')) AND has_schema_privilege($1, $2, 'USAGE')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE (n.nspname = $2 OR (n.nspname = 'public' AND c.relname = 'foodlogstats')) AND c.relkind IN ('v', 'm')
            """;
        Assert.True(await su.ScalarAsync<bool>(ReadSql, "phood_ro", env.Schema));
        Assert.False(await su.ScalarAsync<bool>(ReadSql, "public", env.Schema));
        Assert.False(await su.ScalarAsync<bool>(ReadSql, env.PlainUser, env.Schema));

        // whadmin: owns and runs everything, but creates no roles or databases.
        await using var wh = await OpenAsAsync(env, "whadmin");
        Assert.Equal(0L, await wh.ScalarAsync<long>(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '_wh' AND NOT has_function_privilege(p.oid, 'EXECUTE')"));
        await using (var tx = await wh.BeginTransactionAsync())
        {
            await wh.ExecAsync("DELETE FROM _wh.run_log WHERE false");
            await wh.ExecAsync("UPDATE _wh.mv_templates SET description = description");
            await wh.ExecAsync("CREATE TABLE public.wh_scratch (x int)");
            Assert.Equal(1, await wh.ScalarAsync<int>(
                $"SELECT x FROM public.dblink('wh_{env.Warehouse.Connection}', 'SELECT 1') AS t(x int)"));
            await tx.RollbackAsync();
        }
        await wh.FailsAsync("CREATE ROLE wh_made_role", [SqlKit.InsufficientPrivilege]);
        await wh.FailsAsync("CREATE DATABASE wh_made_db", [SqlKit.InsufficientPrivilege]);
    }

    private static readonly string[] SecretFragments =
        [PostgresServer.SourceReaderPassword, "pa\\ss;=", "pa\\\\ss", RotatedPassword, "ated pa"];

    /// <summary>Everything the role can read: every selectable relation's rows, every function and view definition.</summary>
    private static async Task<(string Text, int Relations)> EverythingReadableAsync(NpgsqlConnection db)
    {
        var text = new System.Text.StringBuilder();
        var relations = await db.ColumnAsync(
            """
            SELECT c.oid::regclass::text FROM pg_class c
            WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND has_table_privilege(c.oid, 'SELECT')
              -- information_schema only re-presents pg_catalog (read raw here), and element_types alone takes 5 s.
              AND c.relnamespace <> 'information_schema'::regnamespace
            """);
        foreach (var relation in relations)
        {
            try
            {
                text.AppendLine(await db.ScalarAsync<string>($"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {relation} t"));
            }
            catch (PostgresException e) when (e.SqlState is SqlKit.InsufficientPrivilege or "0A000" or "55000")
            {
                // e.g. a view over a function only superusers may call: nothing readable there.
            }
        }
        text.AppendLine(await db.ScalarAsync<string>(
            "SELECT string_agg(pg_get_functiondef(oid), E'\\n') FROM pg_proc WHERE prokind IN ('f', 'p')"));
        text.AppendLine(await db.ScalarAsync<string>(
            "SELECT string_agg(pg_get_viewdef(oid), E'\\n') FROM pg_class WHERE relkind IN ('v', 'm')"));
        text.AppendLine(await db.ScalarAsync<string>(
            "SELECT coalesce(string_agg(array_to_string(proconfig, ','), E'\\n'), '') FROM pg_proc"));
        return (text.ToString(), relations.Count);
    }

    [Fact]
    public async Task No_tenant_password_is_readable_by_phood_ro_or_a_plain_login_and_none_is_stored_in_the_table()
    {
        var env = await EnvAsync();
        // A second connection whose password was rotated (so both the original and a rotated one are looked for).
        var rotated = PostgresServer.UniqueName("rot");
        await using (var wh = await SqlKit.OpenAsync(server, env.Warehouse.Database, "whadmin"))
        {
            await wh.AddConnectionAsync(rotated, env.Warehouse.Source);
            await wh.ExecAsync("UPDATE _wh.tenant_connections SET password = $1 WHERE tenant_name = $2", RotatedPassword, rotated);
            // whadmin (the server owner) does see the credentials in its mappings: the check below is not vacuous.
            var own = await wh.ScalarAsync<string>("SELECT string_agg(array_to_string(umoptions, ','), ';') FROM pg_user_mappings");
            Assert.Contains(PostgresServer.SourceReaderPassword, own);
            Assert.Contains(RotatedPassword, own);
        }

        foreach (var role in new[] { "phood_ro", env.PlainUser })
        {
            await using var db = await OpenAsAsync(env, role);
            var (text, relations) = await EverythingReadableAsync(db);
            Assert.True(relations > 50, $"{role} read only {relations} relations");
            Assert.Contains("wh_" + env.Warehouse.Connection, text); // the server (and the view definitions naming it) were read
            Assert.Contains("dblink(", text);
            foreach (var fragment in SecretFragments)
                Assert.False(text.Contains(fragment, StringComparison.Ordinal), $"{role} can read '{fragment}'");
            Assert.Equal(0L, await db.ScalarAsync<long>(
                "SELECT count(*) FROM pg_user_mappings WHERE umoptions IS NOT NULL"));
        }

        await using var su = await SqlKit.OpenAsync(server, env.Warehouse.Database);
        Assert.Equal(0L, await su.ScalarAsync<long>("SELECT count(*) FROM _wh.tenant_connections WHERE password IS NOT NULL"));
        Assert.Equal(0L, await su.ScalarAsync<long>(
            "SELECT count(*) FROM pg_matviews WHERE definition LIKE '%password%' OR definition LIKE '%host=%'"));
    }

    [Fact]
    public async Task Rotating_the_password_in_tenant_connections_makes_the_same_view_refresh_again()
    {
        var env = await EnvAsync();
        var source = await server.CreateTenantSourceAsync(days: 1, rowsPerDay: 5);
        var conn = PostgresServer.UniqueName("rotate");
        var schema = PostgresServer.UniqueName("sec_rot");
        await using var wh = await SqlKit.OpenAsync(server, env.Warehouse.Database, "whadmin");
        await wh.AddConnectionAsync(conn, source);
        const string Today = "SELECT _wh.update_mv_by_template('foodlogstats', $1, $2, CURRENT_DATE)->>'action'";
        Assert.Equal("created", await wh.ScalarAsync<string>(Today, conn, schema));
        var view = $"{schema}.{SqlKit.ViewName("foodlogstats", SqlKit.Today(server))}";
        var oid = await wh.ScalarAsync<uint>("SELECT $1::regclass::oid", view);

        await using (var admin = await SqlKit.OpenAsync(server, "postgres"))
            await admin.ExecAsync($"ALTER ROLE \"{source.ReaderUser}\" PASSWORD '{RotatedPassword.Replace("'", "''")}'");
        var stale = await wh.FailsAsync(Today, ["08001"], conn, schema);
        Assert.Contains("could not establish connection", stale.MessageText);

        await wh.ExecAsync("UPDATE _wh.tenant_connections SET password = $1 WHERE tenant_name = $2", RotatedPassword, conn);
        Assert.Equal("refreshed", await wh.ScalarAsync<string>(Today, conn, schema));
        // An UPDATE that does not set the password keeps the mapping's.
        await wh.ExecAsync("UPDATE _wh.tenant_connections SET port = port WHERE tenant_name = $1", conn);
        await SqlKit.AddSourceRowsAsync(server, source, SqlKit.Today(server), 2);
        Assert.Equal("refreshed", await wh.ScalarAsync<string>(Today, conn, schema));

        Assert.Equal(oid, await wh.ScalarAsync<uint>("SELECT $1::regclass::oid", view));
        Assert.Equal(7L, await wh.ScalarAsync<long>($"SELECT count(*) FROM {view}"));
        Assert.Null(await wh.ScalarAsync<string?>("SELECT password FROM _wh.tenant_connections WHERE tenant_name = $1", conn));
    }
}
