using System.Text.RegularExpressions;

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
}
