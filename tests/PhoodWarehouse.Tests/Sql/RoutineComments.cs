using System.Text;
using System.Text.RegularExpressions;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// The <c>COMMENT ON</c> of every <c>_wh</c> routine, so that <c>\df+</c> and any catalog browser show each routine's
/// guarantee. The one home of that text is the <c>--</c> comment right above the routine in <c>sql/wh/*.sql</c>;
/// <c>sql/wh/99-routine-comments.sql</c> is generated from it by <see cref="Generate"/> (a test keeps the two in
/// step: <c>./build.sh SqlComments</c> rewrites the file). A build-time tool: the installer runs the generated file and
/// never this code, so it lives with its test rather than in the shipped assembly.
/// </summary>
public static partial class RoutineComments
{
    public const string FileName = "99-routine-comments.sql";

    /// <summary>One routine: its kind, name, argument types (as declared) and the comment above it.</summary>
    public sealed record Routine(string Kind, string Name, IReadOnlyList<string> ArgumentTypes, string Comment);

    [GeneratedRegex(@"^CREATE\s+(?:OR\s+REPLACE\s+)?(?<kind>FUNCTION|PROCEDURE)\s+_wh\.(?<name>\w+)\s*\(", RegexOptions.Multiline)]
    private static partial Regex CreateRoutine();

    /// <summary>The routines of the given files' texts, in order, each with the <c>--</c> block above it (DROP lines between are skipped).</summary>
    public static IReadOnlyList<Routine> Read(IEnumerable<string> texts)
    {
        var routines = new List<Routine>();
        foreach (var text in texts)
        {
            foreach (Match match in CreateRoutine().Matches(text))
            {
                var arguments = ArgumentList(text, match.Index + match.Length);
                routines.Add(new Routine(match.Groups["kind"].Value, match.Groups["name"].Value,
                    SplitTopLevel(arguments).Select(ArgumentType).Where(t => t.Length > 0).ToList(), CommentAbove(text, match.Index)));
            }
        }
        return routines;
    }

    /// <summary>The text of sql/wh/99-routine-comments.sql for these routines.</summary>
    public static string Generate(IReadOnlyList<Routine> routines)
    {
        var overloaded = routines.GroupBy(r => r.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        var sql = new StringBuilder();
        sql.Append("-- sql/wh/").Append(FileName).Append(": the COMMENT ON of every _wh routine (\\df+ shows it).\n");
        sql.Append("-- GENERATED from the comment above each routine in sql/wh/*.sql: edit that comment, then ./build.sh SqlComments.\n");
        sql.Append("-- Included by sql/functions.sql, in order; run it, not this file (psql: \\i sql/functions.sql).\n\n");
        foreach (var routine in routines)
        {
            // A routine's name alone names it unless it is overloaded; then its argument types do.
            var signature = overloaded.Contains(routine.Name) ? $"({string.Join(", ", routine.ArgumentTypes)})" : "";
            sql.Append("COMMENT ON ").Append(routine.Kind).Append(" _wh.").Append(routine.Name).Append(signature)
               .Append(" IS ").Append(Literal(routine.Comment)).Append(";\n");
        }
        return sql.ToString();
    }

    private static string CommentAbove(string text, int createIndex)
    {
        // The block directly above (a blank line ends it: a file's or section's header is not a routine's comment).
        var before = text[..createIndex];
        var lines = (before.EndsWith('\n') ? before[..^1] : before).Split('\n');
        var comment = new List<string>();
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var line = lines[i].TrimEnd();
            if (line.StartsWith("DROP ", StringComparison.Ordinal) && comment.Count == 0) continue;
            if (!line.StartsWith("--", StringComparison.Ordinal)) break;
            var content = line.TrimStart('-').Trim();
            if (content.StartsWith("upgrade from <", StringComparison.Ordinal)) continue;
            comment.Insert(0, content);
        }
        return string.Join(" ", comment.Where(l => l.Length > 0));
    }

    private static string ArgumentList(string text, int start)
    {
        var depth = 1;
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')' && --depth == 0) return text[start..i];
        }
        throw new FormatException("An argument list of a _wh routine has no closing parenthesis.");
    }

    private static IEnumerable<string> SplitTopLevel(string arguments)
    {
        var depth = 0;
        var part = new StringBuilder();
        foreach (var c in arguments)
        {
            if (c == '(') depth++;
            if (c == ')') depth--;
            if (c == ',' && depth == 0) { yield return part.ToString(); part.Clear(); }
            else part.Append(c);
        }
        if (part.ToString().Trim().Length > 0) yield return part.ToString();
    }

    /// <summary>"INOUT summary jsonb DEFAULT NULL" -> "jsonb"; OUT arguments are not part of a function's signature.</summary>
    private static string ArgumentType(string argument)
    {
        var words = Regex.Replace(argument, @"\s+DEFAULT\s.*$|\s*=.*$", "", RegexOptions.Singleline | RegexOptions.IgnoreCase)
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
        if (words.Count == 0) return "";
        if (words[0].Equals("OUT", StringComparison.OrdinalIgnoreCase)) return "";
        if (words[0] is "IN" or "INOUT" or "VARIADIC") words.RemoveAt(0);
        return string.Join(" ", words.Skip(1));
    }

    private static string Literal(string text) => "'" + text.Replace("'", "''") + "'";
}
