using System.Text.RegularExpressions;

namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// The PL/pgSQL linter: plpgsql_check (Debian: postgresql-15-plpgsql-check) checks every PL/pgSQL routine of _wh in
/// a freshly installed warehouse, with its warnings on (other, extra, security, compatibility; not performance).
/// Errors must be zero. A warning passes only when docs/sql-layer.md lists it (routine, level, message) with the
/// reason it stays; a listed warning that no longer occurs fails too, so the list stays true.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class PlpgsqlCheckTests(PostgresServer server)
{
    private sealed record Finding(string Routine, string Level, string Message, int? Line, string? Statement);

    /// <summary>Rows of the table under "## plpgsql_check warnings": | `_wh.routine` | level | message | reason |.</summary>
    private static HashSet<(string Routine, string Level, string Message)> ListedWarnings()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "sql-layer.md"));
        var section = Regex.Match(text, @"^## plpgsql_check warnings\s*$(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(section.Success, "docs/sql-layer.md has no '## plpgsql_check warnings' section");
        return Regex.Matches(section.Groups["body"].Value, @"^\|\s*`(?<routine>_wh\.\w+)`\s*\|\s*(?<level>\w+)\s*\|\s*(?<message>[^|]+?)\s*\|\s*(?<reason>[^|]*?)\s*\|\s*$", RegexOptions.Multiline)
            .Select(m =>
            {
                Assert.False(string.IsNullOrWhiteSpace(m.Groups["reason"].Value), $"docs/sql-layer.md lists {m.Groups["routine"].Value} without a reason");
                return (m.Groups["routine"].Value, m.Groups["level"].Value, m.Groups["message"].Value);
            })
            .ToHashSet();
    }

    private async Task<(int Checked, List<Finding> Findings)> CheckAsync()
    {
        var database = await server.CreateWarehouseAsync();
        await using var db = await server.OpenAsync(database);
        try
        {
            await using var create = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS plpgsql_check", db);
            await create.ExecuteNonQueryAsync();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedFile)
        {
            Assert.Fail("plpgsql_check is not installed for the test cluster's PostgreSQL: apt-get install postgresql-15-plpgsql-check (./build.ps1 Test installs it)");
        }

        // A trigger function is checked against the table of its trigger (plpgsql_check needs a relation for NEW/OLD).
        const string sql = """
            WITH routines AS (
                SELECT p.oid, p.oid::regprocedure::text AS routine,
                       CASE WHEN p.prorettype = 'trigger'::regtype
                            THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.tgfoid = p.oid ORDER BY t.tgrelid LIMIT 1) END AS relid
                FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                JOIN pg_language l ON l.oid = p.prolang
                WHERE n.nspname = '_wh' AND l.lanname = 'plpgsql')
            SELECT r.routine, c.level, c.message, c.lineno, c.statement
            FROM routines r
            LEFT JOIN LATERAL plpgsql_check_function_tb(r.oid, coalesce(r.relid, 0),
                     fatal_errors => false, other_warnings => true, extra_warnings => true, performance_warnings => false,
                     security_warnings => true, compatibility_warnings => true) c ON true
            ORDER BY r.routine, c.lineno
            """;
        await using var command = new NpgsqlCommand(sql, db);
        await using var reader = await command.ExecuteReaderAsync();
        var routines = new HashSet<string>();
        var findings = new List<Finding>();
        while (await reader.ReadAsync())
        {
            var routine = reader.GetString(0);
            routines.Add(routine);
            if (reader.IsDBNull(1)) continue;
            findings.Add(new Finding(routine, reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }
        return (routines.Count, findings);
    }

    private static string Name(string signature) => signature[..signature.IndexOf('(')];

    [Fact]
    public async Task Every_wh_routine_passes_plpgsql_check_and_each_warning_is_listed_with_its_reason()
    {
        var (checkedCount, findings) = await CheckAsync();
        Assert.True(checkedCount >= 20, $"only {checkedCount} PL/pgSQL routines in _wh: is the warehouse installed?");

        var errors = findings.Where(f => f.Level == "error").ToList();
        Assert.True(errors.Count == 0, "plpgsql_check errors:\n" + string.Join("\n", errors.Select(Describe)));

        var listed = ListedWarnings();
        var unlisted = findings.Where(f => !listed.Contains((Name(f.Routine), f.Level, f.Message))).ToList();
        Assert.True(unlisted.Count == 0,
            "plpgsql_check warnings that are neither fixed nor listed in docs/sql-layer.md ('## plpgsql_check warnings'):\n" +
            string.Join("\n", unlisted.Select(Describe)));

        var stale = listed.Where(l => !findings.Any(f => (Name(f.Routine), f.Level, f.Message) == l)).ToList();
        Assert.True(stale.Count == 0,
            "docs/sql-layer.md lists plpgsql_check warnings that no longer occur: remove them:\n" +
            string.Join("\n", stale.Select(s => $"{s.Routine} | {s.Level} | {s.Message}")));
    }

    private static string Describe(Finding f) => $"{f.Routine} line {f.Line}: {f.Level}: {f.Message} ({f.Statement})";
}
