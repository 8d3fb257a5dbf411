using System.Reflection;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// Which <c>_wh</c> schema this module needs, and what to say when the connected warehouse has another one.
/// The schema version is the one <c>sql/functions.sql</c> writes (release 0.1.0 wrote 1.0.0, 0.2.0 writes 2.0.0);
/// the module version is the one in Directory.Build.props.
/// </summary>
public static class SchemaVersion
{
    /// <summary>The schema version the embedded scripts install: what this module's commands need.</summary>
    public static string Required => WarehouseInstaller.TargetVersion();

    public static string ModuleVersion { get; } =
        typeof(SchemaVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(SchemaVersion).Assembly.GetName().Version?.ToString(3) ?? "unknown";

    /// <summary>Negative when <paramref name="installed"/> is older than <see cref="Required"/>, 0 when equal, positive when newer.</summary>
    public static int CompareToRequired(string installed) =>
        System.Version.TryParse(installed, out var a) && System.Version.TryParse(Required, out var b)
            ? a.CompareTo(b)
            : string.CompareOrdinal(installed, Required);

    /// <summary>A warning for Get-WhWarehouse when the schema is not the one this module needs; null when it is.</summary>
    public static string? Warning(string? installed, string target) => installed is null ? null : CompareToRequired(installed) switch
    {
        < 0 => $"The warehouse schema in {target} is {installed}; this module ({ModuleVersion}) needs {Required}. " +
               "Run Install-WhWarehouse to upgrade it in place (docs/operations.md, 'Upgrading the warehouse'); " +
               "until then every other command refuses to run.",
        > 0 => $"The warehouse schema in {target} is {installed}, newer than this module ({ModuleVersion}, schema {Required}). " +
               "Update the module: Install-PSResource PhoodWarehouse.",
        _ => null,
    };

    /// <summary>
    /// The one error of a command that needs the warehouse where none is installed; <paramref name="consequence"/> says
    /// what the command cannot do then.
    /// </summary>
    public static WarehouseException NotInstalled(WhConnection connection, string? consequence = null) =>
        new("WarehouseNotInstalled", WhErrorKind.NotInstalled,
            $"The warehouse is not installed in {connection.Target}{(consequence is null ? "" : ": " + consequence)}. " +
            "Run Install-WhWarehouse (as a superuser), or connect to the warehouse database.", connection.Target);

    /// <summary>Throws SchemaOutdated (or SchemaNewer) unless the connected warehouse has the schema this module needs.</summary>
    public static void EnsureCurrent(WhConnection connection)
    {
        var installed = connection.WarehouseVersion;
        if (installed is null) return; // not installed: each command says so in its own words
        var comparison = CompareToRequired(installed);
        if (comparison < 0)
            throw new WarehouseException("SchemaOutdated", WhErrorKind.NotInstalled,
                $"The warehouse schema in {connection.Target} is {installed}, older than this module ({ModuleVersion}) needs ({Required}). " +
                "Nothing was changed. Run Install-WhWarehouse to upgrade the warehouse in place (it keeps every day, tenant and job; " +
                "see docs/operations.md, 'Upgrading the warehouse'), then run this command again.", connection.Target);
        if (comparison > 0)
            throw new WarehouseException("SchemaNewer", WhErrorKind.NotInstalled,
                $"The warehouse schema in {connection.Target} is {installed}, newer than this module ({ModuleVersion}, schema {Required}) knows. " +
                "Nothing was changed. Update the module (Install-PSResource PhoodWarehouse) and import it again.", connection.Target);
    }
}
