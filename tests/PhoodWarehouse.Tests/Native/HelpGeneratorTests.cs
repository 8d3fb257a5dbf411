using System.Xml.Linq;
using PhoodWarehouse.HelpGenerator;

namespace PhoodWarehouse.Tests.Native;

/// <summary>The Markdown-to-MAML generator on its own: what it reads from a page and what it writes.</summary>
public sealed class HelpGeneratorTests
{
    private const string Page =
        """
        # Get-WhThing

        ## Synopsis
        Gets things
        over two lines.

        ## Syntax
        ```
        Get-WhThing [-Name] <String[]> [-Force] [[-Count] <Int32>] [-Connection <WhConnection>]
        Get-WhThing -Id <Int64> [<CommonParameters>]
        ```

        ## Description
        First paragraph with `code` and **bold**.

        Second paragraph.

        ## Parameters

        ### -Name
        The names.
        - Type: String[]
        - Required: true
        - Position: 0
        - Pipeline: ByValue, ByPropertyName
        - Default: None
        - Aliases: N
        - Wildcards: true

        ### -Force
        Forces.
        - Type: SwitchParameter

        ### -Count
        How many.
        - Type: Int32
        - Position: 1
        - Default: 3

        ### -Id
        An id.
        - Type: Int64
        - Required: true

        ## Examples

        ### Example 1: The first
        ```powershell
        Get-WhThing -Name a
        # a comment, not a heading
        ### not a subsection either
        ```
        Gets a.

        ### Example 2: The second
        ```powershell
        Get-WhThing b -Force
        ```
        Gets b, forcefully.

        ## Outputs
        `My.Thing`: one per thing.
        """;

    [Fact]
    public void Reads_every_part_of_a_page()
    {
        var reader = new MarkdownHelpReader();
        var help = reader.Read(Page, "Get-WhThing.md");

        Assert.Empty(reader.Problems);
        Assert.Equal("Get-WhThing", help.Name);
        Assert.Equal("Gets things over two lines.", help.Synopsis);
        Assert.Equal(2, help.Description.Count);
        Assert.Equal(["Name", "Force", "Count", "Id"], help.Parameters.Select(p => p.Name));
        var name = help.Parameters[0];
        Assert.True(name.Required);
        Assert.Equal("0", name.Position);
        Assert.Equal("True (ByValue, ByPropertyName)", name.PipelineInput);
        Assert.Equal("N", name.Aliases);
        Assert.True(name.Wildcards);
        Assert.Equal(["The names."], name.Description);
        Assert.True(help.Parameters[1].IsSwitch);
        Assert.Equal("False", help.Parameters[1].PipelineInput);
        Assert.Equal(2, help.Examples.Count);
        Assert.Contains("### not a subsection either", help.Examples[0].Code);
        Assert.Equal(["Gets a."], help.Examples[0].Remarks);
        Assert.Equal("My.Thing", Assert.Single(help.Outputs).Type);
        Assert.Equal(2, help.Syntax.Count);
    }

    [Fact]
    public void Reports_missing_parts_instead_of_dropping_them()
    {
        var reader = new MarkdownHelpReader();
        reader.Read("# Get-WhBare\n\n## Parameters\n\n### -X\nNo type.\n", "Get-WhBare.md");
        Assert.Contains(reader.Problems, p => p.Contains("no synopsis"));
        Assert.Contains(reader.Problems, p => p.Contains("no description"));
        Assert.Contains(reader.Problems, p => p.Contains("0 example(s)"));
        Assert.Contains(reader.Problems, p => p.Contains("-X has no '- Type:'"));
        Assert.Throws<FormatException>(() => reader.Read("no title", "x.md"));
    }

    [Fact]
    public void Writes_maml_that_get_help_reads()
    {
        var help = new MarkdownHelpReader().Read(Page);
        var xml = MamlWriter.Write([help]);
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
        XNamespace dev = "http://schemas.microsoft.com/maml/dev/2004/10";

        var element = Assert.Single(xml.Root!.Elements(command + "command"));
        var details = element.Element(command + "details")!;
        Assert.Equal("Get-WhThing", details.Element(command + "name")!.Value);
        Assert.Equal("Get", details.Element(command + "verb")!.Value);
        Assert.Equal("WhThing", details.Element(command + "noun")!.Value);
        Assert.Equal("Gets things over two lines.", details.Element(maml + "description")!.Value);
        Assert.Equal("First paragraph with code and bold.", element.Element(maml + "description")!.Elements(maml + "para").First().Value);

        var sets = element.Element(command + "syntax")!.Elements(command + "syntaxItem").ToList();
        Assert.Equal(2, sets.Count);
        var first = sets[0].Elements(command + "parameter").ToDictionary(p => p.Element(maml + "name")!.Value);
        Assert.Equal(["Name", "Force", "Count", "Connection"], first.Keys);
        Assert.Equal("true", first["Name"].Attribute("required")!.Value);
        Assert.Equal("0", first["Name"].Attribute("position")!.Value);
        Assert.Equal("false", first["Force"].Attribute("required")!.Value);
        Assert.Null(first["Force"].Element(command + "parameterValue"));
        Assert.Equal("false", first["Count"].Attribute("required")!.Value);
        Assert.Equal("1", first["Count"].Attribute("position")!.Value);
        Assert.Equal("named", first["Connection"].Attribute("position")!.Value);
        var second = sets[1].Elements(command + "parameter").Select(p => p.Element(maml + "name")!.Value);
        Assert.Equal(["Id"], second);

        var parameters = element.Element(command + "parameters")!.Elements(command + "parameter").ToList();
        Assert.Equal(4, parameters.Count);
        Assert.Equal("3", parameters[2].Element(dev + "defaultValue")!.Value);
        var examples = element.Element(command + "examples")!.Elements(command + "example").ToList();
        Assert.Equal(2, examples.Count);
        Assert.Contains("Example 1: The first", examples[0].Element(maml + "title")!.Value);
        Assert.StartsWith("Get-WhThing -Name a", examples[0].Element(dev + "code")!.Value);
        Assert.Equal("My.Thing", element.Descendants(command + "returnValue").Single().Element(dev + "type")!.Element(maml + "name")!.Value);
    }

    [Fact]
    public void Every_page_in_docs_cmdlets_reads_without_problems()
    {
        var reader = new MarkdownHelpReader();
        var files = Directory.GetFiles(Path.Combine(Infrastructure.RepositoryPaths.Root, "docs", "cmdlets"), "*-*.md");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var help = reader.Read(File.ReadAllText(file), file);
            Assert.Equal(Path.GetFileNameWithoutExtension(file), help.Name);
        }
        Assert.Empty(reader.Problems);
    }
}
