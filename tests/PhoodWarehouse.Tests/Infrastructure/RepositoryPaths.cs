namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>Where the repository and the built module are, found from the test assembly's folder.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string ModuleManifest => Path.Combine(Root, "out", "PhoodWarehouse", "PhoodWarehouse.psd1");

    /// <summary>
    /// <see cref="CopySqlTree"/>, then create.sql's password stubs replaced with the test passwords of whadmin,
    /// phood_ro and phood_monitor, as the guide's step 1 asks a DBA to do; returns the sql folder.
    /// </summary>
    public static string CopySqlTreeWithPasswords(string work)
    {
        var target = CopySqlTree(work);
        var create = Path.Combine(target, "create.sql");
        File.WriteAllText(create, File.ReadAllText(create)
            .Replace("STUB_WHADMIN_PASSWORD", PostgresServer.WhadminPassword.Replace("'", "''"))
            .Replace("STUB_PHOOD_RO_PASSWORD", PostgresServer.PhoodRoPassword.Replace("'", "''"))
            .Replace("STUB_PHOOD_MONITOR_PASSWORD", PostgresServer.PhoodMonitorPassword.Replace("'", "''")));
        return target;
    }

    /// <summary>Copies the repository's sql/ tree (functions.sql's parts in sql/wh/ too) into <paramref name="work"/>/sql, as a
    /// DBA has it beside psql; returns that folder.</summary>
    public static string CopySqlTree(string work)
    {
        var source = Path.Combine(Root, "sql");
        var target = Path.Combine(work, "sql");
        foreach (var file in Directory.GetFiles(source, "*.sql", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy, overwrite: true);
        }
        return target;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PhoodWarehouse.sln"))) return dir.FullName;
        throw new InvalidOperationException("PhoodWarehouse.sln not found above " + AppContext.BaseDirectory);
    }
}
