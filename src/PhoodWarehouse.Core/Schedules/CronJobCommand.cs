using System.Text;
using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Schedules;

/// <summary>
/// The SQL a warehouse job runs, and the way back from that SQL to tenant, template and connection.
/// "Our jobs" (and "the tenant's jobs", which Remove-WhTenant unschedules) are defined here and nowhere else:
/// jobs whose command calls <c>_wh.refresh_recent_by_template(</c> (what Register-WhCronJob schedules) or the guide's
/// <c>_wh.update_mv_by_template(</c>; the tenant is its third argument.
/// </summary>
public static partial class CronJobCommand
{
    /// <summary>The POSIX regular expression (SQL <c>command ~ FunctionPattern</c>) that finds warehouse jobs.</summary>
    public const string FunctionPattern = @"_wh\.(refresh_recent_by_template|update_mv_by_template)\(";

    /// <summary>The default job name: <c>wh_&lt;tenant&gt;_&lt;template&gt;</c>, unique because one job per tenant and template is the rule.</summary>
    public static string DefaultName(string tenant, string template) => $"wh_{tenant}_{template}";

    /// <summary>
    /// <c>CALL _wh.refresh_recent_by_template('&lt;template&gt;', '&lt;connection&gt;', '&lt;schema&gt;', &lt;lookbackDays&gt;)</c>:
    /// today, yesterday once after it ended, and the daily check of the lookback days. Without refreshYesterday the
    /// guide's <c>SELECT _wh.update_mv_by_template(…, CURRENT_DATE, false)</c>: today only, nothing checked. Every
    /// value is a quoted literal.
    /// </summary>
    public static string Build(string template, string connectionName, string tenantSchema, bool refreshYesterday = true, int lookbackDays = 7)
    {
        if (refreshYesterday)
            return new StringBuilder("CALL _wh.refresh_recent_by_template(")
                .Append(Literal(template)).Append(", ")
                .Append(Literal(connectionName)).Append(", ")
                .Append(Literal(tenantSchema)).Append(", ")
                .Append(lookbackDays.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(')').ToString();
        var sql = new StringBuilder("SELECT ").Append("_wh.update_mv_by_template(")
            .Append(Literal(template)).Append(", ")
            .Append(Literal(connectionName)).Append(", ")
            .Append(Literal(tenantSchema)).Append(", CURRENT_DATE");
        if (!refreshYesterday) sql.Append(", false");
        return sql.Append(')').ToString();
    }

    /// <summary>A PostgreSQL string literal that is safe whatever <c>standard_conforming_strings</c> says.</summary>
    public static string Literal(string value)
    {
        if (value.Contains('\0')) throw new ArgumentException("A SQL literal cannot hold a NUL character.", nameof(value));
        var escaped = value.Replace("'", "''");
        // With a backslash, E'' syntax makes the meaning independent of standard_conforming_strings.
        return value.Contains('\\') ? "E'" + escaped.Replace("\\", "\\\\") + "'" : "'" + escaped + "'";
    }

    [GeneratedRegex(@"_wh\.(?:refresh_recent_by_template|update_mv_by_template)\(\s*(?<t>[Ee]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*')\s*,\s*(?<c>[Ee]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*')\s*,\s*(?<s>[Ee]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*')", RegexOptions.IgnoreCase)]
    private static partial Regex Call();

    /// <summary>Template, connection and tenant schema of a warehouse job's command; null when it is not one.</summary>
    public static (string Template, string ConnectionName, string Tenant)? Parse(string? command)
    {
        if (command is null) return null;
        var match = Call().Match(command);
        if (!match.Success) return null;
        return (Unquote(match.Groups["t"].Value), Unquote(match.Groups["c"].Value), Unquote(match.Groups["s"].Value));
    }

    [GeneratedRegex(@"_wh\.refresh_recent_by_template\((?:\s*(?:[Ee]'(?:[^'\\]|''|\\.)*'|'(?:[^']|'')*')\s*,){3}\s*(?<n>\d+)\s*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Lookback();

    /// <summary>The lookback_days of a scheduled refresh; null for the guide's update_mv_by_template jobs (no check).</summary>
    public static int? LookbackDays(string? command) =>
        command is not null && Lookback().Match(command) is { Success: true } match ? int.Parse(match.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    private static string Unquote(string literal)
    {
        var escape = literal.StartsWith('E') || literal.StartsWith('e');
        var body = literal[(escape ? 2 : 1)..^1].Replace("''", "'");
        return escape ? Regex.Replace(body, @"\\(.)", "$1") : body;
    }
}
