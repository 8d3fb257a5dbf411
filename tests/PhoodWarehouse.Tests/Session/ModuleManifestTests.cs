using System.Management.Automation;

namespace PhoodWarehouse.Tests.Session;

/// <summary>The built module folder is what users import: the manifest is valid and exports every cmdlet, by name.</summary>
public sealed class ModuleManifestTests
{
    [Fact]
    public void Test_ModuleManifest_passes_and_describes_a_Core_module_for_PowerShell_7_4()
    {
        using var shell = new HostedPowerShell();
        var result = shell.Run($"Test-ModuleManifest -Path '{RepositoryPaths.ModuleManifest}' -ErrorAction Stop");

        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var manifest = (PSModuleInfo)Assert.Single(result.Output).BaseObject;
        Assert.Equal("PhoodWarehouse", manifest.Name);
        Assert.Equal(new Version(7, 4), manifest.PowerShellVersion);
        Assert.Contains("Core", manifest.CompatiblePSEditions);
        Assert.NotEqual(Guid.Empty, manifest.Guid);
        Assert.False(string.IsNullOrWhiteSpace(manifest.Description));
        Assert.NotEmpty(manifest.Tags);
    }

    [Fact]
    public void The_manifest_lists_exactly_the_cmdlets_the_assembly_defines()
    {
        using var shell = new HostedPowerShell();
        var exported = shell.Run("(Get-Module PhoodWarehouse).ExportedCmdlets.Keys").Output.Select(o => o.ToString()).Order().ToList();
        var cmdlets = AppDomain.CurrentDomain.GetAssemblies().First(a => a.GetName().Name == "PhoodWarehouse.PowerShell");
        var defined = cmdlets.GetTypes()
            .Select(t => t.GetCustomAttributes(typeof(CmdletAttribute), false).Cast<CmdletAttribute>().SingleOrDefault())
            .Where(a => a is not null)
            .Select(a => $"{a!.VerbName}-{a.NounName}")
            .Order()
            .ToList();

        Assert.Contains("Connect-WhWarehouse", exported);
        Assert.Equal(defined, exported);
    }

    [Fact]
    public void The_module_folder_holds_every_dependency_beside_the_cmdlets()
    {
        var folder = Path.GetDirectoryName(RepositoryPaths.ModuleManifest)!;
        foreach (var file in new[] { "PhoodWarehouse.PowerShell.dll", "PhoodWarehouse.Core.dll", "Npgsql.dll",
                     "Microsoft.Extensions.Logging.Abstractions.dll", "PhoodWarehouse.format.ps1xml" })
            Assert.True(File.Exists(Path.Combine(folder, file)), $"{file} is missing from the module folder");
        Assert.False(File.Exists(Path.Combine(folder, "System.Management.Automation.dll")),
            "the PowerShell reference assemblies must not ship with the module");
    }
}
