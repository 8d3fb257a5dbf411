using System.Text;
using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// The rules for names the warehouse turns into SQL identifiers: tenant schemas, connection names and
/// template names. Checked before any change, with a message that says what is allowed.
/// </summary>
public static partial class TenantName
{
    private static readonly string[] Reserved = ["_wh", "public", "cron", "information_schema"];

    // The longest names, in bytes, as the SQL layer's _wh.assert_lower_name has them (wh/02-names-and-validation.sql;
    // Sql/NameRuleTests compares the two): a schema is an identifier (63); a connection leaves room for its server's
    // "wh_" prefix (60); a template for the day suffix "_YYYY_MM_DD" of its daily views (52).
    public const int MaxTenantBytes = 63;
    public const int MaxConnectionBytes = 60;
    public const int MaxTemplateBytes = 52;

    /// <summary>Throws <c>InvalidTemplateName</c> unless <paramref name="name"/> can name a template (<see cref="MaxTemplateBytes"/>).</summary>
    public static void ValidateTemplate(string name) => Validate(name, "template name", MaxTemplateBytes);

    /// <summary>Throws <c>InvalidConnectionName</c> unless <paramref name="name"/> can name a connection (<see cref="MaxConnectionBytes"/>).</summary>
    public static void ValidateConnection(string name) => Validate(name, "connection name", MaxConnectionBytes);

    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex Identifier();

    /// <summary>Throws <c>InvalidTenantName</c> unless <paramref name="name"/> is a lowercase identifier not reserved for the warehouse.</summary>
    public static void Validate(string name, string what = "tenant name", int maxBytes = MaxTenantBytes)
    {
        string? problem = null;
        if (string.IsNullOrEmpty(name)) problem = "it is empty";
        else if (Encoding.UTF8.GetByteCount(name) > maxBytes) problem = $"it is longer than {maxBytes} bytes";
        else if (!Identifier().IsMatch(name)) problem = "it may hold only lowercase letters a-z, digits and underscores, and must not start with a digit";
        else if (Reserved.Contains(name) || name.StartsWith("pg_", StringComparison.Ordinal)) problem = "it is reserved for the warehouse or PostgreSQL (_wh, public, cron, information_schema, pg_*)";
        if (problem is not null)
            throw new WarehouseException("Invalid" + Pascal(what), WhErrorKind.InvalidArgument,
                $"The {what} '{name}' cannot be used: {problem}. Use a name such as 'tenant_a'.", name);
    }

    private static string Pascal(string words) =>
        string.Concat(words.Split(' ').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
}
