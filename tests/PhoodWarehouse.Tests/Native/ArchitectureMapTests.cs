using System.Text.RegularExpressions;

namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Issue 28, item 9: docs/architecture.md's map names the files each idea lives in. Every path it names exists (a path
/// under sql/, src/, tests/, docs/, module/, monitoring/ or tools/, or a Core/PowerShell folder path such as
/// Health/Checks/FreshnessCheck.cs), so a move or a rename that forgets the map fails here.
/// </summary>
public sealed partial class ArchitectureMapTests
{
    [GeneratedRegex(@"`((?:sql|src|tests|docs|module|monitoring|tools)/[^`\s*<>]+)`")]
    private static partial Regex RootedPath();

    [GeneratedRegex(@"`((?:DailyViews|Health|Tenants|Templates|Install|Configuration|Schedules|Connections|Warehouse|Sandbox|Local|Infrastructure|Reports)/[^`\s*<>]+)`")]
    private static partial Regex FolderPath();

    [Fact]
    public void Every_path_the_architecture_map_names_exists()
    {
        var map = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "architecture.md"));
        // Named on purpose as gone (the launcher the README says was removed).
        var gone = new[] { "src/PhoodWarehouse.Host" };
        var rooted = RootedPath().Matches(map).Select(m => m.Groups[1].Value.Split('#')[0].TrimEnd('/', '.', ',')).Distinct().ToList();
        Assert.True(rooted.Count >= 20, $"only {rooted.Count} paths found: the pattern no longer reads the map");
        var missing = rooted.Where(p => !gone.Contains(p) && !File.Exists(Path.Combine(RepositoryPaths.Root, p)) && !Directory.Exists(Path.Combine(RepositoryPaths.Root, p))).ToList();
        var sources = new[] { "src", "tests" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => f.Replace(Path.DirectorySeparatorChar, '/')).ToList();
        missing.AddRange(FolderPath().Matches(map).Select(m => m.Groups[1].Value.TrimEnd('/', '.', ','))
            .Where(p => !sources.Any(f => f.EndsWith("/" + p, StringComparison.Ordinal) || f.Contains("/" + p + "/", StringComparison.Ordinal))));
        Assert.True(missing.Count == 0, "docs/architecture.md names files that do not exist: " + string.Join(", ", missing.Distinct()));
    }
}
