namespace PhoodWarehouse.Tests.Upgrade;

/// <summary>
/// A released version's SQL, frozen under <c>tests/upgrade/&lt;version&gt;/</c>, installed the way that release did it:
/// the superuser part (setup-database.sql) as the superuser, then functions.sql and the templates as whadmin.
/// Each release adds its folder; the upgrade tests run once per folder. Shared by the tests and the benchmark
/// (linked into both), so it finds the repository itself.
/// </summary>
public sealed class FrozenRelease(string version)
{
    private static readonly string Root = FindRoot();

    public string Version { get; } = version;
    public string Folder => Path.Combine(Root, "tests", "upgrade", Version);

    /// <summary>Every frozen release, oldest first.</summary>
    public static IEnumerable<object[]> All() =>
        Directory.GetDirectories(Path.Combine(Root, "tests", "upgrade"))
            .Select(Path.GetFileName)
            .OrderBy(v => System.Version.Parse(v!))
            .Select(v => new object[] { v! });

    /// <summary>The schema version this release's functions.sql writes (release 0.1.0: 1.0.0).</summary>
    public string SchemaVersion =>
        System.Text.RegularExpressions.Regex.Match(Script("functions.sql"), @"'schema_version'\s*,\s*'([^']+)'").Groups[1].Value;

    public string Script(string file) => File.ReadAllText(Path.Combine(Folder, file));

    /// <summary>Installs this release into <paramref name="database"/> and gives whadmin and phood_ro their passwords.</summary>
    public async Task InstallAsync(string superuserConnectionString, string whadminConnectionString,
        string whadminPassword, string phoodRoPassword)
    {
        // In one transaction, as create.sql runs it (release 0.3.0's refuses to run outside one).
        await ExecuteAsync(superuserConnectionString, "BEGIN;\n" + Script("setup-database.sql") + "\nCOMMIT;");
        await using (var admin = new NpgsqlConnection(superuserConnectionString))
        {
            await admin.OpenAsync();
            await using var passwords = new NpgsqlCommand(
                "SELECT set_config('phood.w', @w, false), set_config('phood.r', @r, false)", admin);
            passwords.Parameters.AddWithValue("w", whadminPassword);
            passwords.Parameters.AddWithValue("r", phoodRoPassword);
            await passwords.ExecuteNonQueryAsync();
            await using var alter = new NpgsqlCommand(
                """
                DO $$ BEGIN
                  EXECUTE format('ALTER ROLE whadmin PASSWORD %L', current_setting('phood.w'));
                  EXECUTE format('ALTER ROLE phood_ro PASSWORD %L', current_setting('phood.r'));
                END $$;
                """, admin);
            await alter.ExecuteNonQueryAsync();
        }
        await ExecuteAsync(whadminConnectionString, Script("functions.sql"));
        foreach (var template in Directory.GetFiles(Folder, "template-*.sql").Order(StringComparer.Ordinal))
            await ExecuteAsync(whadminConnectionString, File.ReadAllText(template));
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PhoodWarehouse.sln"))) return dir.FullName;
        throw new InvalidOperationException("PhoodWarehouse.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync();
    }
}
