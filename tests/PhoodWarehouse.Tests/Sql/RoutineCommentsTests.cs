namespace PhoodWarehouse.Tests.Sql;

/// <summary>
/// Issue 15: every _wh routine carries a COMMENT ON with its guarantee, generated from the one comment above it in
/// sql/wh/*.sql (RoutineComments), so that \df+ shows it once installed.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class RoutineCommentsTests(PostgresServer server)
{
    private static readonly string PartsFolder = Path.Combine(RepositoryPaths.Root, "sql", "wh");

    private static IReadOnlyList<RoutineComments.Routine> Routines() =>
        RoutineComments.Read(Directory.GetFiles(PartsFolder, "*.sql").Order(StringComparer.Ordinal)
            .Where(f => Path.GetFileName(f) != RoutineComments.FileName).Select(File.ReadAllText));

    [Fact]
    public void The_comments_file_is_generated_from_the_comment_above_each_routine()
    {
        var routines = Routines();
        Assert.True(routines.Count > 80, $"only {routines.Count} routines read: the reader is broken");
        var uncommented = routines.Where(r => r.Comment.Length == 0).Select(r => r.Name).ToList();
        Assert.True(uncommented.Count == 0, "No comment above: " + string.Join(", ", uncommented) + ". Write what each guarantees, above it.");
        var file = Path.Combine(PartsFolder, RoutineComments.FileName);
        var generated = RoutineComments.Generate(routines);
        if (Environment.GetEnvironmentVariable("PHOOD_WRITE_ROUTINE_COMMENTS") == "1") File.WriteAllText(file, generated);
        Assert.True(File.Exists(file) && File.ReadAllText(file) == generated,
            $"sql/wh/{RoutineComments.FileName} is not what the comments above the routines give: run ./build.sh SqlComments.");
        // The last part functions.sql includes, before the COMMIT of its one transaction.
        Assert.EndsWith("\\ir wh/" + RoutineComments.FileName + "\n\nCOMMIT;", File.ReadAllText(Path.Combine(RepositoryPaths.Root, "sql", "functions.sql")).TrimEnd());
    }

    [Fact]
    public async Task Once_installed_every_wh_routine_has_its_comment()
    {
        var database = await server.CreateWarehouseAsync();
        await using var db = await server.OpenAsync(database);
        await using var command = new NpgsqlCommand(
            """
            SELECT p.oid::regprocedure::text, coalesce(obj_description(p.oid, 'pg_proc'), '')
            FROM pg_proc p WHERE p.pronamespace = '_wh'::regnamespace ORDER BY 1
            """, db);
        var comments = new Dictionary<string, string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) comments[reader.GetString(0)] = reader.GetString(1);
        Assert.Equal(Routines().Count, comments.Count);
        Assert.All(comments, c => Assert.True(c.Value.Length > 20, $"{c.Key} has no comment"));
        var nowComment = Assert.Single(comments, c => c.Key.StartsWith("_wh.now(")).Value;
        Assert.Contains("phood.now", nowComment);
    }
}
