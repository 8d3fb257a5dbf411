namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Get-Help -Full for every exported cmdlet, in the hosted engine, from the MAML the build generated out of
/// docs/cmdlets: a synopsis, a description, every parameter documented, at least two examples.
/// A cmdlet without a page fails here by design: write docs/cmdlets/Verb-Noun.md.
/// </summary>
public sealed class ModuleHelpTests(ModuleShellFixture fixture) : IClassFixture<ModuleShellFixture>
{
    private readonly HostedPowerShell shell = fixture.PowerShell;

    [Theory]
    [MemberData(nameof(ModuleSurface.Cmdlets), MemberType = typeof(ModuleSurface))]
    public void Full_help_has_synopsis_description_every_parameter_and_two_examples(string cmdlet)
    {
        var result = shell.Run(
            """
            $help = Get-Help -Name $cmdlet -Full
            $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
            $declared = @((Get-Command -Name $cmdlet).Parameters.Keys | Where-Object { $common -notcontains $_ })
            $documented = @($help.parameters.parameter | Where-Object { $_ } | ForEach-Object { $_.name })
            [pscustomobject]@{
                Synopsis     = [string]$help.Synopsis
                Description  = [string](@($help.description | ForEach-Object { $_.Text }) -join ' ')
                Undocumented = @($declared | Where-Object { $documented -notcontains $_ })
                Described    = @($help.parameters.parameter | Where-Object { $_ -and -not (@($_.description | ForEach-Object { $_.Text }) -join '').Trim() } | ForEach-Object { $_.name })
                Examples     = @($help.examples.example | Where-Object { $_ -and $_.code.Trim() }).Count
            }
            """, new Dictionary<string, object?> { ["cmdlet"] = cmdlet });
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var help = result.Output.Single();
        string Text(string name) => help.Properties[name].Value?.ToString() ?? "";
        var page = $"docs/cmdlets/{cmdlet}.md";

        // Without MAML, Get-Help makes up a synopsis from the syntax ("Get-WhThing [-Name <string>] …").
        Assert.False(string.IsNullOrWhiteSpace(Text("Synopsis")) || Text("Synopsis").StartsWith(cmdlet + " ", StringComparison.Ordinal) || Text("Synopsis").Contains('['),
            $"{cmdlet}: no synopsis ({page} missing or without '## Synopsis'): '{Text("Synopsis")}'");
        Assert.False(string.IsNullOrWhiteSpace(Text("Description")), $"{cmdlet}: no description in {page}");
        var undocumented = ((object[])help.Properties["Undocumented"].Value).Select(o => o.ToString()).ToList();
        Assert.True(undocumented.Count == 0, $"{cmdlet}: parameters not documented in {page}: {string.Join(", ", undocumented)}");
        var bare = ((object[])help.Properties["Described"].Value).Select(o => o.ToString()).ToList();
        Assert.True(bare.Count == 0, $"{cmdlet}: parameters without a description in {page}: {string.Join(", ", bare)}");
        Assert.True((int)help.Properties["Examples"].Value >= 2, $"{cmdlet}: {help.Properties["Examples"].Value} example(s) in {page}; write at least two");
    }

    [Fact]
    public void The_help_file_is_laid_out_with_the_module()
    {
        var help = Path.Combine(Path.GetDirectoryName(RepositoryPaths.ModuleManifest)!, "en-US", "PhoodWarehouse.PowerShell.dll-Help.xml");
        Assert.True(File.Exists(help), $"{help} is missing: the build's module layout should generate it from docs/cmdlets");
    }
}
