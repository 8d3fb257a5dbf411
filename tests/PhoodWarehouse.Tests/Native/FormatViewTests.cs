using System.Management.Automation.Runspaces;
using System.Xml.Linq;

namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Every type a cmdlet declares in [OutputType] (from PhoodWarehouse.Core) has a default table view, and the
/// format and type files load in the engine. Get-FormatData is not among the engine's core cmdlets here, so the
/// format file is loaded with the engine's own FormatTable and the output types come from Get-Command.
/// </summary>
public sealed class FormatViewTests
{
    private static string ModuleFolder => Path.GetDirectoryName(RepositoryPaths.ModuleManifest)!;

    [Fact]
    public void Every_declared_output_type_has_a_table_view()
    {
        using var shell = new HostedPowerShell();
        var result = shell.Run(
            """
            Get-Command -Module PhoodWarehouse | ForEach-Object { $_.OutputType } | Where-Object { $_.Type -and $_.Type.Namespace -like 'PhoodWarehouse.Core*' } |
                ForEach-Object { $_.Type.FullName }
            """);
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var outputTypes = result.Output.Select(o => o.ToString()).Distinct().ToList();
        Assert.NotEmpty(outputTypes);

        var views = XDocument.Load(Path.Combine(ModuleFolder, "PhoodWarehouse.format.ps1xml")).Descendants("View")
            .Where(v => v.Element("TableControl") is not null)
            .SelectMany(v => v.Descendants("TypeName").Select(t => t.Value.Trim()))
            .ToHashSet();
        var missing = outputTypes.Where(t => !views.Contains(t)).ToList();
        Assert.True(missing.Count == 0, "no table view in module/PhoodWarehouse.format.ps1xml for: " + string.Join(", ", missing));
    }

    [Fact]
    public void The_format_file_loads_in_the_engine()
    {
        // Throws FormatTableLoadException, naming the view, for anything the engine rejects.
        var table = new FormatTable([Path.Combine(ModuleFolder, "PhoodWarehouse.format.ps1xml")]);
        Assert.NotNull(table);
    }

    [Fact]
    public void The_sandbox_view_and_string_hold_no_password()
    {
        var format = File.ReadAllText(Path.Combine(ModuleFolder, "PhoodWarehouse.format.ps1xml"));
        var sandboxView = XDocument.Parse(format).Descendants("View").Single(v => v.Element("Name")?.Value == "WhSandbox").ToString();
        Assert.DoesNotContain("ConnectionString", sandboxView);
        Assert.DoesNotContain("Password", sandboxView);
        Assert.DoesNotContain("Credential", sandboxView);
    }
}
