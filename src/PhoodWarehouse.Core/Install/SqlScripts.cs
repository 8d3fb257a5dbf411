using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// The <c>sql/</c> files, embedded at build time: the same text psql runs with <c>\i</c>. A file's <c>\ir part.sql</c>
/// lines (functions.sql includes its parts, <c>sql/wh/*.sql</c>, that way) are expanded as psql expands them: the
/// included file's text in place of the line, its path relative to the including file.
/// </summary>
public static class SqlScripts
{
    public const string SetupDatabase = "setup-database.sql";
    public const string Functions = "functions.sql";
    private const string TemplatePrefix = "template-";

    private static readonly Assembly Assembly = typeof(SqlScripts).Assembly;

    private static readonly Regex IncludeLine = new(@"^\\ir\s+(?<path>\S+)\s*$", RegexOptions.Multiline);

    public static string Read(string fileName)
    {
        using var stream = Assembly.GetManifestResourceStream("sql/" + fileName)
            ?? throw new InvalidOperationException($"The embedded script sql/{fileName} is missing from the build.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        var directory = Path.GetDirectoryName(fileName)?.Replace('\\', '/') ?? "";
        return IncludeLine.Replace(text, include =>
            Read(directory.Length == 0 ? include.Groups["path"].Value : directory + "/" + include.Groups["path"].Value).TrimEnd('\n'));
    }

    private static readonly Regex TransactionControlLine = new(@"^(BEGIN|COMMIT);[ \t]*\n?", RegexOptions.Multiline);

    /// <summary>
    /// A script's text without its own <c>BEGIN;</c> and <c>COMMIT;</c> lines (functions.sql runs in one transaction
    /// under psql): for the installer, which runs it inside a transaction of its own together with the templates.
    /// </summary>
    public static string WithoutOwnTransaction(string text) => TransactionControlLine.Replace(text, "");

    /// <summary>
    /// The warehouse's settings and their defaults as <c>_wh.settings()</c> in functions.sql declares them: what a new
    /// install starts with, for a -WhatIf of an import into a database that is not installed yet.
    /// </summary>
    public static IReadOnlyDictionary<string, string> SettingDefaults()
    {
        var text = Read(Functions);
        var start = text.IndexOf("FUNCTION _wh.settings()", StringComparison.Ordinal);
        if (start < 0) return new Dictionary<string, string>();
        var body = text[start..text.IndexOf("$$;", start, StringComparison.Ordinal)];
        return Regex.Matches(body, @"\('([a-z_]+)', '([^']*)'\)").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
    }

    /// <summary>The template files (<c>template-*.sql</c>), by name, in a stable order.</summary>
    public static IReadOnlyList<string> TemplateFiles() =>
        Assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith("sql/" + TemplatePrefix, StringComparison.Ordinal))
            .Select(name => name["sql/".Length..])
            .Order(StringComparer.Ordinal)
            .ToList();

    public static string TemplateName(string templateFile) =>
        Path.GetFileNameWithoutExtension(templateFile)[TemplatePrefix.Length..];

    /// <summary>A fingerprint of everything an install runs, so that a second install can tell it has nothing to do.</summary>
    public static string Checksum()
    {
        var all = new StringBuilder();
        foreach (var file in new[] { SetupDatabase, Functions }.Concat(TemplateFiles()))
            all.Append(file).Append('\n').Append(Read(file)).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(all.ToString()))).ToLowerInvariant();
    }
}
