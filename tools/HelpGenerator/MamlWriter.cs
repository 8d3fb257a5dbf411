using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PhoodWarehouse.HelpGenerator;

/// <summary>Writes commands as a MAML help file, the format Get-Help reads for binary cmdlets.</summary>
public static partial class MamlWriter
{
    private static readonly XNamespace Msh = "http://msh";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    // [[-N] <T>] optional positional · [-N] <T> required positional · [-N <T>] optional · -N <T> required · [-N] switch
    [GeneratedRegex(@"\[\[-(?<name>\w+)\]\s*<(?<type>[^>]+)>\]|\[-(?<name>\w+)\]\s*<(?<type>[^>]+)>|\[-(?<name>\w+)\s*<(?<type>[^>]+)>\]|\[-(?<name>\w+)\]|-(?<name>\w+)\s*<(?<type>[^>]+)>")]
    private static partial Regex SyntaxToken();

    public static XDocument Write(IEnumerable<CommandHelp> commands) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems", new XAttribute("schema", "maml"),
                commands.OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase).Select(CommandElement)));

    private static XElement CommandElement(CommandHelp help) =>
        new(Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml),
            new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev),
            new XElement(Command + "details",
                new XElement(Command + "name", help.Name),
                new XElement(Command + "verb", help.Verb),
                new XElement(Command + "noun", help.Noun),
                Description(help.Synopsis.Length > 0 ? [help.Synopsis] : [])),
            Description(help.Description),
            new XElement(Command + "syntax", SyntaxItems(help)),
            new XElement(Command + "parameters", help.Parameters.Select(p => Parameter(p, p.Required, p.Position))),
            new XElement(Command + "inputTypes", help.Inputs.Select(t => new XElement(Command + "inputType", TypeElements(t)))),
            new XElement(Command + "returnValues", help.Outputs.Select(t => new XElement(Command + "returnValue", TypeElements(t)))),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(help.Notes))),
            new XElement(Command + "examples", help.Examples.Select((e, i) => new XElement(Command + "example",
                new XElement(Maml + "title", $"--------- Example {i + 1}: {StripExamplePrefix(e.Title)} ---------"),
                new XElement(Dev + "code", e.Code),
                new XElement(Dev + "remarks", Paras(e.Remarks))))),
            new XElement(Command + "relatedLinks", help.Related.Select(r => new XElement(Maml + "navigationLink",
                new XElement(Maml + "linkText", r), new XElement(Maml + "uri")))));

    /// <summary>One syntax item per line of the page's Syntax block; without one, a single item of every parameter.</summary>
    private static IEnumerable<XElement> SyntaxItems(CommandHelp help)
    {
        var byName = help.Parameters.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        if (help.Syntax.Count == 0)
        {
            yield return new XElement(Command + "syntaxItem", new XElement(Maml + "name", help.Name),
                help.Parameters.Select(p => Parameter(p, p.Required, p.Position)));
            yield break;
        }
        foreach (var line in help.Syntax)
        {
            var parameters = new List<XElement>();
            foreach (Match token in SyntaxToken().Matches(line))
            {
                var name = token.Groups["name"].Value;
                if (name == "CommonParameters") continue;
                var parameter = byName.GetValueOrDefault(name) ?? new ParameterHelp { Name = name, Type = token.Groups["type"].Success ? token.Groups["type"].Value : "SwitchParameter" };
                var optional = token.Value.StartsWith("[[", StringComparison.Ordinal) || token.Value.EndsWith(']');
                var positional = token.Value.StartsWith("[[-", StringComparison.Ordinal) || Regex.IsMatch(token.Value, @"^\[-\w+\]\s*<");
                var required = !optional;
                parameters.Add(Parameter(parameter, required, positional ? parameter.Position : "named"));
            }
            yield return new XElement(Command + "syntaxItem", new XElement(Maml + "name", help.Name), parameters);
        }
    }

    private static XElement Parameter(ParameterHelp p, bool required, string position) =>
        new(Command + "parameter",
            new XAttribute("required", required ? "true" : "false"),
            new XAttribute("variableLength", p.Type.EndsWith("[]", StringComparison.Ordinal) ? "true" : "false"),
            new XAttribute("globbing", p.Wildcards ? "true" : "false"),
            new XAttribute("pipelineInput", p.PipelineInput),
            new XAttribute("position", position),
            new XAttribute("aliases", p.Aliases),
            new XElement(Maml + "name", p.Name),
            Description(p.Description),
            p.IsSwitch ? null : new XElement(Command + "parameterValue", new XAttribute("required", "true"),
                new XAttribute("variableLength", "false"), p.Type),
            new XElement(Dev + "type", new XElement(Maml + "name", p.Type), new XElement(Maml + "uri")),
            new XElement(Dev + "defaultValue", p.DefaultValue));

    private static IEnumerable<XElement> TypeElements(TypeHelp type) =>
    [
        new XElement(Dev + "type", new XElement(Maml + "name", type.Type), new XElement(Maml + "uri")),
        Description(type.Description.Length > 0 ? [type.Description] : []),
    ];

    private static XElement Description(IEnumerable<string> paragraphs) => new(Maml + "description", Paras(paragraphs));

    private static IEnumerable<XElement> Paras(IEnumerable<string> paragraphs) =>
        paragraphs.Select(p => new XElement(Maml + "para", Inline(p)));

    /// <summary>Markdown inline marks that mean nothing in a console: `code`, **bold**, [text](link).</summary>
    private static string Inline(string text) =>
        Regex.Replace(Regex.Replace(text.Replace("**", ""), @"\[([^\]]+)\]\([^)]+\)", "$1"), "`([^`]*)`", "$1");

    private static string StripExamplePrefix(string title) =>
        Regex.Replace(title, @"^Example\s+\d+\s*[:.-]?\s*", "", RegexOptions.IgnoreCase);
}
