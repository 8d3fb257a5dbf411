using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation.Language;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// Tab completion from the connected warehouse: names that start with what was typed (wildcards allowed),
/// quoted when they need it. Cached for a few seconds; silent when not connected or on any error.
/// </summary>
public abstract class WarehouseNameCompleter(NameKind kind) : IArgumentCompleter
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<(WhConnection, NameKind), (DateTime At, IReadOnlyList<string> Names)> Cache = new();

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var connection = fakeBoundParameters["Connection"] as WhConnection ?? DefaultConnection.Current;
        if (connection is null) return [];
        var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return Names(connection)
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name));
    }

    private IReadOnlyList<string> Names(WhConnection connection)
    {
        if (Cache.TryGetValue((connection, kind), out var cached) && DateTime.UtcNow - cached.At < CacheFor) return cached.Names;
        var names = NameLookup.List(connection, kind);
        Cache[(connection, kind)] = (DateTime.UtcNow, names);
        return names;
    }

    private static string Quote(string name) =>
        name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.') ? name : "'" + name.Replace("'", "''") + "'";
}

public sealed class TenantNameCompleter() : WarehouseNameCompleter(NameKind.Tenant);

public sealed class TemplateNameCompleter() : WarehouseNameCompleter(NameKind.Template);

public sealed class CronJobNameCompleter() : WarehouseNameCompleter(NameKind.CronJob);

/// <summary>The IANA time zones the warehouse's PostgreSQL knows (pg_timezone_names).</summary>
public sealed class TimeZoneCompleter() : WarehouseNameCompleter(NameKind.TimeZone);
