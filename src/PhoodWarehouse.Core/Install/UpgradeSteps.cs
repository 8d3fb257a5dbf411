using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// The steps an upgrade takes beyond re-creating the routines, as <c>sql/functions.sql</c> declares them next to the
/// SQL that does them: a comment line <c>-- upgrade from &lt; 2.0.0: add column _wh.tenants.time_zone</c> applies to a
/// warehouse whose schema is older than 2.0.0. Install-WhWarehouse -WhatIf lists them; psql users read them in the file.
/// </summary>
public static partial class UpgradeSteps
{
    [GeneratedRegex(@"^--\s*upgrade from <\s*(?<version>\d+(\.\d+)*)\s*:\s*(?<step>.+?)\s*$", RegexOptions.Multiline)]
    private static partial Regex StepLine();

    /// <summary>The declared steps that apply to a warehouse at <paramref name="installedVersion"/>, in file order.</summary>
    public static IReadOnlyList<string> For(string installedVersion) => For(installedVersion, SqlScripts.Read(SqlScripts.Functions));

    public static IReadOnlyList<string> For(string installedVersion, string functionsSql)
    {
        if (!Version.TryParse(installedVersion, out var installed)) return [];
        return StepLine().Matches(functionsSql)
            .Where(m => installed < Version.Parse(m.Groups["version"].Value))
            .Select(m => m.Groups["step"].Value)
            .ToList();
    }
}
