using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core;

/// <summary>
/// A name or a wildcard pattern (<c>*</c>, <c>?</c>, <c>[abc]</c>), as users type them in PowerShell,
/// matched case-insensitively. Kept in Core so that any front end filters the same way.
/// </summary>
public sealed class NamePattern
{
    private readonly Regex regex;

    public NamePattern(string text)
    {
        Text = text;
        HasWildcards = text.IndexOfAny(['*', '?', '[']) >= 0;
        var pattern = new System.Text.StringBuilder("^");
        foreach (var c in text)
            pattern.Append(c switch { '*' => ".*", '?' => ".", '[' => "[", ']' => "]", _ => Regex.Escape(c.ToString()) });
        regex = new Regex(pattern.Append('$').ToString(), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    public string Text { get; }
    public bool HasWildcards { get; }
    public bool IsMatch(string name) => regex.IsMatch(name);

    /// <summary>True when no patterns are given, or any one matches.</summary>
    public static bool AnyMatch(IReadOnlyList<NamePattern> patterns, string name) =>
        patterns.Count == 0 || patterns.Any(p => p.IsMatch(name));
}
