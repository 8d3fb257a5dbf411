using System.Text.RegularExpressions;
using PhoodWarehouse.Tests.Infrastructure;
using Xunit;

namespace PhoodWarehouse.Tests.Native;

/// <summary>What the module exports, read from its manifest: the cmdlet list theories run over.</summary>
public static class ModuleSurface
{
    public static IReadOnlyList<string> ExportedCmdlets()
    {
        var manifest = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "module", "PhoodWarehouse.psd1"));
        var list = Regex.Match(manifest, @"CmdletsToExport\s*=\s*@\((?<list>[^)]*)\)").Groups["list"].Value;
        return Regex.Matches(list, @"'([^']+)'").Select(m => m.Groups[1].Value).ToList();
    }

    public static TheoryData<string> Cmdlets()
    {
        var data = new TheoryData<string>();
        foreach (var name in ExportedCmdlets()) data.Add(name);
        return data;
    }

    /// <summary>Every example script and Pester file: the scripts whose Wh commands must exist.</summary>
    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (var folder in new[] { Path.Combine("docs", "examples"), Path.Combine("tests", "Pester") })
        {
            var full = Path.Combine(RepositoryPaths.Root, folder);
            if (!Directory.Exists(full)) continue;
            foreach (var file in Directory.GetFiles(full, "*.ps1").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(RepositoryPaths.Root, file));
        }
        return data;
    }
}
