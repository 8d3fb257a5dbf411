namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>Where the repository and the built module are, found from the test assembly's folder.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string ModuleManifest => Path.Combine(Root, "out", "PhoodWarehouse", "PhoodWarehouse.psd1");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PhoodWarehouse.sln"))) return dir.FullName;
        throw new InvalidOperationException("PhoodWarehouse.sln not found above " + AppContext.BaseDirectory);
    }
}
