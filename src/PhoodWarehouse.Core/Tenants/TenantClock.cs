namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// "Today" on a tenant's clock, asked of the SQL layer (<c>_wh.tenant_today</c>: the tenant's time zone, else the
/// warehouse session's; <c>_wh.now()</c>, which tests move with <c>phood.now</c>), never of this machine's clock.
/// </summary>
public static class TenantClock
{
    /// <summary>Each tenant's today, in one round trip.</summary>
    public static async Task<Dictionary<string, DateOnly>> TodayAsync(NpgsqlConnection db, IEnumerable<string> tenants, CancellationToken cancel)
    {
        var todays = new Dictionary<string, DateOnly>(StringComparer.Ordinal);
        await using var command = Db.Command(db, "SELECT t, _wh.tenant_today(t) FROM unnest(@t::text[]) t", ("t", tenants.Distinct().ToArray()));
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel)) todays[reader.GetString(0)] = reader.GetFieldValue<DateOnly>(1);
        return todays;
    }

    /// <summary>One tenant's today; TenantNotFound when it is not registered.</summary>
    public static async Task<DateOnly> TodayOfAsync(WhConnection connection, string tenant, CancellationToken cancel)
    {
        await using var db = await connection.DataSource.OpenConnectionAsync(cancel);
        if (!await Db.ScalarAsync<bool>(db, "SELECT EXISTS (SELECT 1 FROM _wh.tenants WHERE schema_name = @t)", cancel, ("t", tenant)))
            throw TenantStore.NotFound(tenant);
        return (await TodayAsync(db, [tenant], cancel))[tenant];
    }

    /// <summary>Raises InvalidTimeZone unless PostgreSQL knows the zone (the rule lives in <c>_wh.assert_time_zone</c>).</summary>
    public static async Task ValidateTimeZoneAsync(NpgsqlConnection db, string timeZone, string tenant, CancellationToken cancel)
    {
        try
        {
            await Db.ExecuteAsync(db, "SELECT _wh.assert_time_zone(@z)", cancel, ("z", timeZone));
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.InvalidParameterValue)
        {
            throw new WarehouseException("InvalidTimeZone", WhErrorKind.InvalidArgument,
                $"-TimeZone '{timeZone}' of tenant '{tenant}' is not a time zone PostgreSQL knows. Give an IANA name such as 'America/Los_Angeles' " +
                "(names are case-sensitive; SELECT name FROM pg_timezone_names lists them). Nothing was changed.", timeZone, error);
        }
    }
}
