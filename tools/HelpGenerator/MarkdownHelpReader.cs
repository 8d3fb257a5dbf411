using System.Text.RegularExpressions;

namespace PhoodWarehouse.HelpGenerator;

/// <summary>
/// Reads a cmdlet page written in the docs/cmdlets format:
/// <code>
/// # Verb-Noun
/// ## Synopsis            one paragraph
/// ## Syntax              (optional) a code block, one line per parameter set
/// ## Description         paragraphs
/// ## Parameters          ### -Name: paragraphs, then "- Type: …", "- Required: …", "- Position: …",
///                        "- Pipeline: ByValue, ByPropertyName", "- Default: …", "- Aliases: …", "- Wildcards: …"
/// ## Examples            ### Example N: title, a ```powershell block, paragraphs
/// ## Inputs / ## Outputs paragraphs whose first `code span` is the type
/// ## Notes, ## Related   (optional)
/// </code>
/// Anything it cannot place is reported in <see cref="Problems"/> rather than silently dropped.
/// </summary>
public sealed partial class MarkdownHelpReader
{
    private readonly List<string> problems = [];

    public IReadOnlyList<string> Problems => problems;

    [GeneratedRegex(@"^-\s*(Type|Required|Position|Pipeline|Pipeline input|Default|Default value|Aliases|Alias|Wildcards|Accept wildcard characters)\s*:\s*(.*)$", RegexOptions.IgnoreCase)]
    private static partial Regex MetadataLine();

    [GeneratedRegex(@"`([^`]+)`")]
    private static partial Regex CodeSpan();

    public CommandHelp Read(string markdown, string source = "")
    {
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        string? name = null;
        var sections = new List<(string Title, List<string> Lines)>();
        foreach (var line in lines)
        {
            if (line.StartsWith("# ", StringComparison.Ordinal) && name is null) { name = line[2..].Trim(); continue; }
            if (line.StartsWith("## ", StringComparison.Ordinal)) { sections.Add((line[3..].Trim(), [])); continue; }
            if (sections.Count > 0) sections[^1].Lines.Add(line);
        }
        if (string.IsNullOrEmpty(name)) throw new FormatException($"{source}: no '# Verb-Noun' title.");

        List<string> Section(string title) =>
            sections.FirstOrDefault(s => s.Title.Equals(title, StringComparison.OrdinalIgnoreCase)).Lines ?? [];

        var help = new CommandHelp
        {
            Name = name,
            Synopsis = string.Join(" ", Paragraphs(Section("Synopsis"))),
            Description = Paragraphs(Section("Description")),
            Syntax = CodeBlocks(Section("Syntax")).SelectMany(b => b.Split('\n')).Select(l => l.Trim()).Where(l => l.Length > 0).ToList(),
            Parameters = ReadParameters(Section("Parameters"), source),
            Examples = ReadExamples(Section("Examples"), source),
            Inputs = ReadTypes(Section("Inputs")),
            Outputs = ReadTypes(Section("Outputs")),
            Notes = Paragraphs(Section("Notes")),
            Related = Paragraphs(Section("Related")).SelectMany(p => p.Split(' ')).Select(l => l.Trim().TrimStart('-', '*').Trim()).Where(l => l.Length > 0).ToList(),
        };
        if (help.Synopsis.Length == 0) problems.Add($"{source}: {name} has no synopsis.");
        if (help.Description.Count == 0) problems.Add($"{source}: {name} has no description.");
        if (help.Examples.Count < 2) problems.Add($"{source}: {name} has {help.Examples.Count} example(s); write at least two.");
        return help;
    }

    private List<ParameterHelp> ReadParameters(List<string> lines, string source)
    {
        var result = new List<ParameterHelp>();
        foreach (var (title, body) in Subsections(lines))
        {
            var name = title.TrimStart('-').Trim();
            var text = new List<string>();
            var meta = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in body)
            {
                var match = MetadataLine().Match(line.Trim());
                if (match.Success) meta[Canonical(match.Groups[1].Value)] = match.Groups[2].Value.Trim().Trim('`');
                else text.Add(line);
            }
            if (!meta.ContainsKey("Type")) problems.Add($"{source}: parameter -{name} has no '- Type:' line.");
            var pipeline = meta.GetValueOrDefault("Pipeline", "false");
            result.Add(new ParameterHelp
            {
                Name = name,
                Description = Paragraphs(text),
                Type = meta.GetValueOrDefault("Type", "String"),
                Required = IsTrue(meta.GetValueOrDefault("Required", "false")),
                Position = meta.GetValueOrDefault("Position", "named") is var p && int.TryParse(p, out _) ? p : "named",
                PipelineInput = pipeline.Equals("false", StringComparison.OrdinalIgnoreCase) || pipeline.Equals("no", StringComparison.OrdinalIgnoreCase) || pipeline.Length == 0
                    ? "False"
                    : pipeline.StartsWith("true", StringComparison.OrdinalIgnoreCase) ? "True" + pipeline[4..] : $"True ({pipeline})",
                DefaultValue = meta.GetValueOrDefault("Default", "None"),
                Aliases = meta.GetValueOrDefault("Aliases", "none"),
                Wildcards = IsTrue(meta.GetValueOrDefault("Wildcards", "false")),
            });
        }
        return result;
    }

    private List<ExampleHelp> ReadExamples(List<string> lines, string source)
    {
        var result = new List<ExampleHelp>();
        foreach (var (title, body) in Subsections(lines))
        {
            var code = CodeBlocks(body);
            if (code.Count == 0) problems.Add($"{source}: '{title}' has no code block.");
            var remarks = Paragraphs(WithoutCodeBlocks(body));
            result.Add(new ExampleHelp(title, string.Join("\n\n", code), remarks));
        }
        return result;
    }

    private static List<TypeHelp> ReadTypes(List<string> lines) =>
        Paragraphs(WithoutCodeBlocks(lines))
            .Select(p =>
            {
                var match = CodeSpan().Match(p);
                if (!match.Success) return new TypeHelp(p, "");
                var rest = (p[..match.Index] + p[(match.Index + match.Length)..]).Trim().TrimStart(':', '-', '.', ' ').Trim();
                return new TypeHelp(match.Groups[1].Value, rest);
            })
            .ToList();

    private static IEnumerable<(string Title, List<string> Body)> Subsections(List<string> lines)
    {
        (string Title, List<string> Body)? current = null;
        var inCode = false;
        foreach (var line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) inCode = !inCode;
            if (!inCode && line.StartsWith("### ", StringComparison.Ordinal))
            {
                if (current is { } done) yield return done;
                current = (line[4..].Trim(), []);
                continue;
            }
            current?.Body.Add(line);
        }
        if (current is { } last) yield return last;
    }

    /// <summary>Paragraphs of prose: blank-line separated, lines joined; list items stay separate paragraphs.</summary>
    public static List<string> Paragraphs(IEnumerable<string> lines)
    {
        var result = new List<string>();
        var current = new List<string>();
        void Flush() { if (current.Count > 0) { result.Add(string.Join(" ", current)); current.Clear(); } }
        foreach (var raw in WithoutCodeBlocks(lines))
        {
            var line = raw.Trim();
            if (line.Length == 0) { Flush(); continue; }
            if (line.StartsWith("- ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal)) Flush();
            current.Add(line);
        }
        Flush();
        return result;
    }

    private static List<string> WithoutCodeBlocks(IEnumerable<string> lines)
    {
        var result = new List<string>();
        var inCode = false;
        foreach (var line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { inCode = !inCode; result.Add(""); continue; }
            if (!inCode) result.Add(line);
        }
        return result;
    }

    private static List<string> CodeBlocks(IEnumerable<string> lines)
    {
        var result = new List<string>();
        List<string>? current = null;
        foreach (var line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                if (current is null) current = [];
                else { result.Add(string.Join("\n", current).Trim('\n')); current = null; }
                continue;
            }
            current?.Add(line);
        }
        return result;
    }

    private static string Canonical(string key) => key.ToLowerInvariant() switch
    {
        "pipeline input" => "Pipeline",
        "default value" => "Default",
        "alias" => "Aliases",
        "accept wildcard characters" => "Wildcards",
        var k => char.ToUpperInvariant(k[0]) + k[1..],
    };

    private static bool IsTrue(string value) => value.Trim().StartsWith("true", StringComparison.OrdinalIgnoreCase) || value.Trim().StartsWith("yes", StringComparison.OrdinalIgnoreCase);
}
