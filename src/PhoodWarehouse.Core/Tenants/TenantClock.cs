namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// A tenant's clock: its time zone, checked by the SQL layer. Its "today" (<c>_wh.tenant_today</c>: the tenant's time
/// zone, else the warehouse session's; <c>_wh.now()</c>, which tests move with <c>phood.now</c>), never this machine's
/// clock, is read by the plan of days (<see cref="DailyViews.DayPlanner"/>), once per plan.
/// </summary>
public static class TenantClock
{
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
