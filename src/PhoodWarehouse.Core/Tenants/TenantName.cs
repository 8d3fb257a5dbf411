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

    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex Identifier();

    /// <summary>Throws <c>InvalidTenantName</c> unless <paramref name="name"/> is a lowercase identifier not reserved for the warehouse.</summary>
    public static void Validate(string name, string what = "tenant name", int maxBytes = 63)
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
