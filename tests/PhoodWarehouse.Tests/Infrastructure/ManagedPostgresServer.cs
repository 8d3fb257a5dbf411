namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A managed PostgreSQL server as Amazon RDS hands it over, emulated on the local server programs (issue 25). What the
/// lab superuser prepares before the handover, each step standing for a provider behaviour:
/// <list type="number">
/// <item>A provider build (<see cref="ProviderBuild"/>): a copy of the server programs whose extension folder marks dblink
/// and pg_cron <c>trusted</c>. RDS lets its admin <c>CREATE EXTENSION</c> both; vanilla PostgreSQL lets only a superuser.</item>
/// <item>The provider role <c>rds_superuser</c> (NOLOGIN CREATEDB CREATEROLE, a member of pg_monitor, pg_signal_backend,
/// pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables) and the admin login <c>master</c> (NOSUPERUSER CREATEDB
/// CREATEROLE, a member of rds_superuser).</item>
/// <item>In template1, so in every database the admin creates, the provider's event trigger: when the admin creates
/// dblink it gets dblink's functions and USAGE on dblink_fdw WITH GRANT OPTION; when it creates pg_cron, USAGE on schema
/// cron and EXECUTE on its functions WITH GRANT OPTION, pg_cron itself staying the provider's (its C functions write
/// cron.job as the extension's owner). On RDS the master owns what its CREATE EXTENSION of dblink made and may grant on
/// cron; vanilla PostgreSQL runs a trusted extension's script as the bootstrap superuser (architecture fact 12).</item>
/// <item>pg_cron preloaded for phood_warehouse, its jobs over the socket (the provider's parameter group).</item>
/// </list>
/// After the handover nothing runs as a superuser in a warehouse database: the tests install as <c>master</c> and work
/// as whadmin. Tenant sources are other databases of the same cluster, made by the lab superuser as a tenant's own DBA
/// would make them (<see cref="PostgresServer.CreateTenantSourceAsync"/>).
/// </summary>
public class ManagedPostgresServer : PostgresServer
{
    public const string Admin = "master";
    public const string AdminPassword = "m'aster pw\\;=ö";

    protected override LocalPostgresCluster? StartOwnCluster()
    {
        var cluster = LocalPostgresCluster.Start(new LocalClusterOptions { Binaries = ProviderBuild.Binaries.Value });
        try
        {
            HandOver(cluster);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>A connection string of the managed admin (never a superuser).</summary>
    public string AdminConnectionString(string database = "postgres") => ConnectionString(database, Admin, AdminPassword);

    /// <summary>A new empty database, created and owned by the admin (as on RDS, where the admin creates databases).</summary>
    public async Task<string> AdminCreateDatabaseAsync(string name)
    {
        await using var db = new NpgsqlConnection(AdminConnectionString());
        await db.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", db);
        await create.ExecuteNonQueryAsync();
        return name;
    }

    private static void HandOver(LocalPostgresCluster cluster)
    {
        var password = AdminPassword.Replace("'", "''");
        Execute(cluster.ConnectionString("postgres"),
            $"""
            CREATE ROLE rds_superuser NOLOGIN CREATEDB CREATEROLE;
            GRANT pg_monitor, pg_signal_backend, pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables TO rds_superuser;
            CREATE ROLE {Admin} LOGIN NOSUPERUSER CREATEDB CREATEROLE PASSWORD '{password}' IN ROLE rds_superuser;
            """);
        Execute(cluster.ConnectionString("template1"),
            """
            CREATE SCHEMA provider;
            REVOKE ALL ON SCHEMA provider FROM PUBLIC;
            CREATE FUNCTION provider.hand_over_extension() RETURNS event_trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
            DECLARE
                created record;
                fn regprocedure;
            BEGIN
                FOR created IN SELECT e.extname FROM pg_catalog.pg_event_trigger_ddl_commands() c
                               JOIN pg_catalog.pg_extension e ON e.oid = c.objid
                               WHERE c.command_tag = 'CREATE EXTENSION' LOOP
                    IF created.extname = 'dblink' THEN
                        FOR fn IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
                                  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                                  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'dblink' LOOP
                            EXECUTE format('ALTER FUNCTION %s OWNER TO %I', fn, session_user);
                        END LOOP;
                        GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO rds_superuser WITH GRANT OPTION;
                    ELSIF created.extname = 'pg_cron' THEN
                        -- pg_cron is the provider's (RDS: rdsadmin's): its C functions write cron.job as the extension's owner.
                        UPDATE pg_catalog.pg_extension SET extowner = 10 WHERE extname = 'pg_cron';
                        GRANT USAGE ON SCHEMA cron TO rds_superuser WITH GRANT OPTION;
                        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA cron TO rds_superuser WITH GRANT OPTION;
                    END IF;
                END LOOP;
            END
            $$;
            REVOKE ALL ON FUNCTION provider.hand_over_extension() FROM PUBLIC;
            CREATE EVENT TRIGGER provider_extension_handover ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
                EXECUTE FUNCTION provider.hand_over_extension();
            """);
    }

    private static void Execute(string connectionString, string sql)
    {
        // Not pooled: an idle connection to template1 would keep CREATE DATABASE from copying it.
        using var db = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        db.Open();
        using var command = new NpgsqlCommand(sql, db);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// The provider's build of the server, made once per test run: a copy of the server programs and of the share folder
    /// (each at the same place relative to the other as installed, so that the copied server finds the copied share folder:
    /// PostgreSQL's paths are relocatable), with <c>trusted = true</c> in dblink's and pg_cron's control files, and the real
    /// library folder linked in. Deleted by the next run's clean-up once this process has ended.
    /// </summary>
    private static class ProviderBuild
    {
        public static readonly Lazy<PostgresBinaries> Binaries = new(Make);

        private static PostgresBinaries Make()
        {
            var real = PostgresBinaries.Find() ?? throw new InvalidOperationException("No PostgreSQL server programs for the managed-server emulation.");
            var pgConfig = Path.Combine(real.BinDirectory, "pg_config");
            var share = TestProgram.Run(pgConfig, ["--sharedir"]).Succeeded("pg_config").Trim();
            var lib = TestProgram.Run(pgConfig, ["--pkglibdir"]).Succeeded("pg_config").Trim();
            var root = Path.Combine(Path.GetTempPath(), "phoodwh-provider-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(root);
            File.WriteAllText(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString());
            string Under(string path) => Path.Combine(root, path.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(Under(real.BinDirectory))!);
            Directory.CreateDirectory(Path.GetDirectoryName(Under(share))!);
            TestProgram.Run("cp", ["-a", real.BinDirectory, Under(real.BinDirectory)]).Succeeded("cp");
            TestProgram.Run("cp", ["-a", share, Under(share)]).Succeeded("cp");
            if (!Directory.Exists(Under(lib))) File.CreateSymbolicLink(Under(lib), lib);
            foreach (var extension in new[] { "dblink", "pg_cron" })
            {
                var control = Path.Combine(Under(share), "extension", extension + ".control");
                if (File.Exists(control)) File.AppendAllText(control, "\ntrusted = true\n");
            }
            return new PostgresBinaries(Under(real.BinDirectory));
        }
    }
}
