using PhoodWarehouse.Core.Templates;

namespace PhoodWarehouse.Tests.Reliability;

/// <summary>
/// A source whose schema drifts after its days exist: a column changes type or is dropped. Every way of loading a day
/// again (Update-WhMv for today, update_mv_by_template for yesterday, force on a compacted closed day) fails with an
/// error that names the problem, and every old row stays as it was (every column compared); Test-WhTemplate names the
/// changed column. One warehouse for the class; each test drifts a source of its own.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SourceDriftTests(PostgresServer server)
{
    private const string PassThrough = "drift_pass";
    private static readonly Once<string> Warehouse = new();

    private Task<string> DatabaseAsync() => Warehouse.Get(async () =>
    {
        var database = await server.CreateWarehouseAsync();
        await using var wh = await SqlKit.OpenAsync(server, database, "whadmin");
        await PassThroughTemplate.AddAsync(wh, PassThrough);
        return database;
    });

    /// <summary>A tenant with today, yesterday (materialized views) and the day before, compacted into &lt;template&gt;_closed.</summary>
    private async Task<Drift> LoadAsync(WarehouseScenario wh, string tenant, string template)
    {
        await using var db = await SqlKit.OpenAsync(server, wh.Database, "whadmin");
        var today = await db.ScalarAsync<DateOnly>("SELECT _wh.today_in(NULL)"); // the tenant's clock: it has no time zone of its own
        var source = await server.CreateTenantSourceAsync(days: 3, rowsPerDay: 20, firstDay: today.AddDays(-2));
        wh.AddTenant(tenant, source);
        var load = wh.Run("Invoke-WhMvBackfill $t -Template $tpl -From $from",
            new Dictionary<string, object?> { ["t"] = tenant, ["tpl"] = template, ["from"] = today.AddDays(-2).ToDateTime(TimeOnly.MinValue) });
        Assert.True(load.Succeeded, string.Join("; ", load.AllErrors));
        Assert.All(load.All<WhMvResult>(), r => Assert.Equal(MvAction.Created, r.Action));
        await db.ExecAsync("SELECT _wh.compact_closed_days($1, $2)", template, tenant);
        Assert.Equal("v", await db.ScalarAsync<string>("SELECT _wh.daily_relkind($1, $2)::text", tenant, SqlKit.ViewName(template, today.AddDays(-2))));
        var connection = await db.ScalarAsync<string>("SELECT connection_name FROM _wh.tenants WHERE schema_name = $1", tenant);
        var drift = new Drift(source, tenant, template, connection, today, []);
        foreach (var day in drift.Days)
        {
            drift.Before[day] = await RowFingerprint.OfWarehouseAsync(db, template, $"{tenant}.{SqlKit.ViewName(template, day)}");
            Assert.StartsWith("20/", drift.Before[day]);
        }
        drift.TenantViewBefore = await RowFingerprint.OfWarehouseAsync(db, template, $"{tenant}.{template}");
        return drift;
    }

    /// <summary>Every way of loading a day again fails with <paramref name="sqlState"/>; afterwards every old row is there, unchanged.</summary>
    private async Task AssertRefreshFailsAndKeepsRowsAsync(WarehouseScenario wh, Drift drift, string sqlState, string expected)
    {
        var vars = new Dictionary<string, object?> { ["t"] = drift.Tenant, ["tpl"] = drift.Template };
        var update = wh.Run("Update-WhMv $t $tpl", vars);
        var result = update.Single<WhMvResult>();
        Assert.Equal(MvAction.Failed, result.Action);
        Assert.Contains(expected, result.Error);
        Assert.Contains(expected, update.AssertError("DayFailed").Exception.Message);

        await using var db = await SqlKit.OpenAsync(server, wh.Database, "whadmin");
        // psql's route: yesterday's refresh and a forced re-creation of the compacted closed day.
        var yesterday = await db.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4)", [sqlState],
            drift.Template, drift.Connection, drift.Tenant, drift.Today.AddDays(-1));
        Assert.StartsWith($"{drift.Tenant}.{SqlKit.ViewName(drift.Template, drift.Today.AddDays(-1))}: ", yesterday.MessageText);
        Assert.Contains(expected, yesterday.MessageText);
        var forced = await db.FailsAsync("SELECT _wh.update_mv_by_template($1, $2, $3, $4, force => true)", [sqlState],
            drift.Template, drift.Connection, drift.Tenant, drift.Today.AddDays(-2));
        Assert.Contains(expected, forced.MessageText);

        foreach (var day in drift.Days)
            Assert.Equal(drift.Before[day], await RowFingerprint.OfWarehouseAsync(db, drift.Template, $"{drift.Tenant}.{SqlKit.ViewName(drift.Template, day)}"));
        Assert.Equal(drift.TenantViewBefore, await RowFingerprint.OfWarehouseAsync(db, drift.Template, $"{drift.Tenant}.{drift.Template}"));
        Assert.Equal("v", await db.ScalarAsync<string>("SELECT _wh.daily_relkind($1, $2)::text", drift.Tenant, SqlKit.ViewName(drift.Template, drift.Today.AddDays(-2))));
        Assert.Equal(60L, await db.ScalarAsync<long>("SELECT count(*) FROM public." + drift.Template + " WHERE client = $1", drift.Tenant));
        Assert.Contains(expected, await db.ScalarAsync<string>(
            "SELECT error FROM _wh.run_log WHERE tenant_schema = $1 AND action = 'failed' ORDER BY id DESC LIMIT 1", drift.Tenant));
    }

    /// <summary>
    /// A tenant of <paramref name="template"/> whose source then runs <paramref name="alter"/>: every refresh fails with
    /// <paramref name="sqlState"/> and keeps the old rows. Returns what Test-WhTemplate says afterwards (before: Success).
    /// </summary>
    private async Task<WhTemplateTest> DriftAsync(string template, string alter, string sqlState, string expected)
    {
        using var wh = await WarehouseScenario.StartAsync(server, await DatabaseAsync());
        var drift = await LoadAsync(wh, PostgresServer.UniqueName("drift"), template);
        WhTemplateTest Test() => wh.Run("Test-WhTemplate -Name $tpl -Tenant $t",
            new Dictionary<string, object?> { ["t"] = drift.Tenant, ["tpl"] = template }).Single<WhTemplateTest>();
        Assert.True(Test().Success);

        await server.ExecuteAsync(drift.Source.Database, alter);
        await AssertRefreshFailsAndKeepsRowsAsync(wh, drift, sqlState, expected);
        var test = Test();
        Assert.False(test.Success);
        return test;
    }

    /// <summary>The source starts storing the unit with the weight.</summary>
    private const string WeightBecomesText = "ALTER TABLE phood_foodlogsum ALTER COLUMN weight TYPE text USING weight::text || ' kg'";

    [Fact]
    public async Task A_column_that_changes_type_fails_every_refresh_keeps_the_old_rows_and_Test_WhTemplate_names_it_with_both_types()
    {
        var test = await DriftAsync(PassThrough, WeightBecomesText, "22P02", "invalid input syntax for type numeric");
        Assert.True(test.QueryRuns);
        Assert.False(test.ColumnsMatch);
        Assert.Equal(["bigint", "timestamp without time zone", "text", "text"], test.SourceColumnTypes);
        var problem = Assert.Single(test.Problems);
        Assert.Contains("weight", problem);
        Assert.Contains("numeric", problem);
        Assert.Contains("the source returns text", problem);
    }

    [Fact]
    public async Task A_type_change_hidden_by_a_cast_in_the_template_fails_every_refresh_and_Test_WhTemplate_names_the_column_whose_values_fail()
    {
        // foodlogstats reads f.weight::numeric: the result type stays numeric, only the values fail (at the source).
        var test = await DriftAsync("foodlogstats", WeightBecomesText, "22P02", "invalid input syntax for type numeric");
        Assert.False(test.QueryRuns);
        Assert.True(test.ColumnsMatch);
        var problem = Assert.Single(test.Problems);
        Assert.StartsWith("column 8 (weight numeric): its values of ", problem);
        Assert.Contains("invalid input syntax for type numeric: \"", problem);
        Assert.Contains(" kg\"", problem);
    }

    [Fact]
    public async Task A_dropped_column_fails_every_refresh_keeps_the_old_rows_and_Test_WhTemplate_names_it()
    {
        var test = await DriftAsync("foodlogstats", "ALTER TABLE phood_foodlogsum DROP COLUMN station", "42703", "column f.station does not exist");
        Assert.False(test.QueryRuns);
        Assert.Contains(test.Problems, p => p.Contains("column f.station does not exist", StringComparison.Ordinal));
    }

    private sealed record Drift(TenantSource Source, string Tenant, string Template, string Connection, DateOnly Today,
        Dictionary<DateOnly, string> Before)
    {
        public DateOnly[] Days => [Today, Today.AddDays(-1), Today.AddDays(-2)];
        public string TenantViewBefore { get; set; } = "";
    }
}
