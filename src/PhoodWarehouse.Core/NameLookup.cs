namespace PhoodWarehouse.Core;

/// <summary>What can be named in a command, for tab completion.</summary>
public enum NameKind { Tenant, Template, CronJob, TimeZone }

/// <summary>Quick, synchronous name lists for tab completion; empty on any error (completion must stay silent).</summary>
public static class NameLookup
{
    public static IReadOnlyList<string> List(WhConnection connection, NameKind kind)
    {
        var sql = kind switch
        {
            NameKind.Tenant => "SELECT schema_name FROM _wh.tenants ORDER BY 1",
            NameKind.Template => "SELECT template_name FROM _wh.mv_templates ORDER BY 1",
            NameKind.TimeZone => "SELECT name FROM pg_timezone_names WHERE name !~ '^(posix|right)/' ORDER BY 1",
            _ => "SELECT jobname FROM cron.job WHERE jobname IS NOT NULL ORDER BY 1",
        };
        try
        {
            using var db = connection.DataSource.OpenConnection();
            using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 5 };
            // Synchronous on purpose (an argument completer cannot await), hence its own loop rather than Db.ReadAllAsync.
            using var reader = command.ExecuteReader();
            var names = new List<string>();
            while (reader.Read()) names.Add(reader.GetString(0));
            return names;
        }
        catch (Exception error) when (error is NpgsqlException or InvalidOperationException or ObjectDisposedException)
        {
            return [];
        }
    }
}
