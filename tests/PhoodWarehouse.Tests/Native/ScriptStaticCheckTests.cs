using System.Management.Automation;
using System.Management.Automation.Language;
using PhoodWarehouse.Tests.Infrastructure;
using Xunit;

namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// Pester cannot be installed here, and example scripts rot quietly: every tests/Pester/*.ps1 and
/// docs/examples/*.ps1 must parse, and every *-Wh* command it names, with every parameter it passes, must exist
/// in the built module (Get-Command metadata, aliases and common parameters included).
/// </summary>
public sealed class ScriptStaticCheckTests : IClassFixture<ScriptStaticCheckTests.Commands>
{
    public sealed class Commands : IDisposable
    {
        private readonly HostedPowerShell shell = new();

        public Commands()
        {
            var result = shell.Run("Get-Command -Module PhoodWarehouse");
            if (!result.Succeeded) throw new InvalidOperationException(string.Join("; ", result.AllErrors));
            foreach (var item in result.Output)
            {
                var command = (CmdletInfo)item.BaseObject;
                var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var parameter in command.Parameters.Values)
                {
                    names.Add(parameter.Name);
                    foreach (var alias in parameter.Aliases) names.Add(alias);
                }
                ByName[command.Name] = names;
            }
        }

        public Dictionary<string, HashSet<string>> ByName { get; } = new(StringComparer.OrdinalIgnoreCase);

        public void Dispose() => shell.Dispose();
    }

    private readonly Commands module;

    public ScriptStaticCheckTests(Commands module) => this.module = module;

    [Fact]
    public void There_are_scripts_to_check() =>
        Assert.Contains(((System.Collections.IEnumerable)ModuleSurface.Scripts()).Cast<object[]>().Select(row => (string)row[0]), path => path.EndsWith("quickstart.ps1", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(ModuleSurface.Scripts), MemberType = typeof(ModuleSurface))]
    public void Script_parses_and_names_only_existing_commands_and_parameters(string relativePath)
    {
        var ast = Parser.ParseFile(Path.Combine(RepositoryPaths.Root, relativePath), out _, out var errors);
        Assert.True(errors.Length == 0, $"{relativePath} does not parse: " + string.Join("; ", errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}")));

        var problems = new List<string>();
        var checkedCommands = 0;
        foreach (var call in ast.FindAll(a => a is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>())
        {
            var name = call.GetCommandName();
            if (name is null || !System.Text.RegularExpressions.Regex.IsMatch(name, @"^\w+-Wh\w+$")) continue;
            checkedCommands++;
            if (!module.ByName.TryGetValue(name, out var parameters))
            {
                problems.Add($"line {call.Extent.StartLineNumber}: {name} is not a command of the module");
                continue;
            }
            foreach (var parameter in call.CommandElements.OfType<CommandParameterAst>())
            {
                // PowerShell accepts any unambiguous prefix; scripts here spell parameters out, so exact names only.
                if (!parameters.Contains(parameter.ParameterName))
                    problems.Add($"line {parameter.Extent.StartLineNumber}: {name} has no parameter -{parameter.ParameterName}");
            }
        }
        Assert.True(problems.Count == 0, $"{relativePath}:\n" + string.Join("\n", problems));
        Assert.True(checkedCommands > 0, $"{relativePath} uses no Wh command: nothing checked");
    }
}
