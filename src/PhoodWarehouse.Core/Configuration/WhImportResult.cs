namespace PhoodWarehouse.Core.Configuration;

/// <summary>What Import-WhConfiguration did (or found already done) for one item.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))] // ConvertTo-Json writes the name (issue 29, item 10)
public enum ImportAction { Created, Unchanged, Updated, Skipped }

/// <summary>One line of an import's report: Kind is Warehouse, Template, Tenant, CronJob or Backfill.</summary>
public sealed record WhImportResult(string Kind, string Name, ImportAction Action, string Message)
{
    public override string ToString() => $"{Kind} {Name}: {Action}";
}
