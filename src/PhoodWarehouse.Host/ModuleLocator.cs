namespace PhoodWarehouse.Host;

/// <summary>Finds the built module: PHOOD_MODULE, else out/PhoodWarehouse above the script, the current folder or this program.</summary>
internal static class ModuleLocator
{
    private static readonly string RelativeManifest = Path.Combine("out", "PhoodWarehouse", "PhoodWarehouse.psd1");

    public static string? Find(string script)
    {
        if (Environment.GetEnvironmentVariable("PHOOD_MODULE") is { Length: > 0 } configured)
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        foreach (var start in new[] { Path.GetDirectoryName(script)!, Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var manifest = Path.Combine(dir.FullName, RelativeManifest);
                if (File.Exists(manifest)) return manifest;
            }
        return null;
    }
}
