using PhoodWarehouse.Core.Schedules;

namespace PhoodWarehouse.Tests.Schedules;

/// <summary>Core only: cron validation, next-run times (month ends, leap day, time zones), and the job command.</summary>
public sealed class CronExpressionTests
{
    [Theory]
    [InlineData("0 2 * * *", "2024-01-31T03:00:00Z", "2024-02-01T02:00:00Z")]
    [InlineData("0 0 31 * *", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z")]
    [InlineData("0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z")]
    [InlineData("0 0 1 * *", "2024-04-30T12:00:00Z", "2024-05-01T00:00:00Z")]
    [InlineData("*/15 * * * *", "2024-02-29T23:50:00Z", "2024-03-01T00:00:00Z")]
    [InlineData("59 23 * * *", "2024-12-31T23:59:00Z", "2025-01-01T23:59:00Z")]
    [InlineData("30 1 28-31 * *", "2024-02-29T02:00:00Z", "2024-03-28T01:30:00Z")]
    [InlineData("0 0 1 * 1", "2024-01-30T00:00:00Z", "2024-02-01T00:00:00Z")] // cron's OR of day-of-month and day-of-week
    [InlineData("0 6 * * SUN", "2024-03-30T12:00:00Z", "2024-03-31T06:00:00Z")]
    public void Next_run_in_GMT_is_right_around_month_ends(string schedule, string from, string expected)
    {
        var next = CronExpression.Parse(schedule).NextUtc(Utc(from), CronExpression.ResolveTimeZone(null));
        Assert.Equal(Utc(expected), next);
    }

    [Fact]
    public void Next_run_follows_cron_timezone_when_set()
    {
        var berlin = CronExpression.ResolveTimeZone("Europe/Berlin");
        Assert.Equal(Utc("2024-02-01T01:00:00Z"), CronExpression.Parse("0 2 * * *").NextUtc(Utc("2024-01-31T12:00:00Z"), berlin));
        // Last day of March 2024 is the switch to summer time: 02:00 local is 00:00Z on the 31st.
        Assert.Equal(Utc("2024-03-31T01:00:00Z"), CronExpression.Parse("0 3 31 * *").NextUtc(Utc("2024-03-01T00:00:00Z"), berlin));
        Assert.Same(TimeZoneInfo.Utc, CronExpression.ResolveTimeZone("GMT"));
    }

    [Theory]
    [InlineData("61 * * * *", "field 1 (minute) is '61'")]
    [InlineData("0 24 * * *", "field 2 (hour) is '24'")]
    [InlineData("0 0 32 * *", "field 3 (day of month) is '32'")]
    [InlineData("0 0 * 13 *", "field 4 (month) is '13'")]
    [InlineData("0 0 * * 8", "field 5 (day of week) is '8'")]
    [InlineData("0 0 L * *", "field 3 (day of month) is 'L'")]
    [InlineData("0 0 * * MON#2", "field 5 (day of week) is 'MON#2'")]
    [InlineData("0 0 * FOO *", "'FOO' is not a valid month")]
    [InlineData("* * *", "it has 3 fields")]
    [InlineData("0 0 0 * * *", "it has 6 fields")]
    [InlineData("", "it is empty")]
    [InlineData("   ", "it is empty")]
    public void Invalid_expressions_say_which_field_and_show_an_example(string schedule, string expected)
    {
        var error = Assert.Throws<WarehouseException>(() => CronExpression.Parse(schedule));
        Assert.Equal("InvalidCronExpression", error.ErrorId);
        Assert.Equal(WhErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(expected, error.Message);
        Assert.Contains("Example: '0 2 * * *'", error.Message);
    }

    [Theory]
    [InlineData("0 2 * * *")]
    [InlineData("*/5 * * * *")]
    [InlineData("0 0,12 1-15/2 JAN-JUN mon-fri")]
    [InlineData("0 0 * * 7")]
    public void Valid_expressions_parse_and_are_normalized(string schedule)
    {
        Assert.Equal(schedule, CronExpression.Parse("  " + schedule.Replace(" ", "  ") + " ").Text);
    }

    [Fact]
    public void The_job_command_quotes_every_value_and_parses_back()
    {
        Assert.Equal("CALL _wh.refresh_recent_by_template('foodlogstats', 'tenant_a_conn', 'tenant_a', 7)",
            CronJobCommand.Build("foodlogstats", "tenant_a_conn", "tenant_a"));
        Assert.Equal("CALL _wh.refresh_recent_by_template('foodlogstats', 'c', 't', 0)",
            CronJobCommand.Build("foodlogstats", "c", "t", lookbackDays: 0));
        Assert.Equal(0, CronJobCommand.LookbackDays(CronJobCommand.Build("foodlogstats", "c", "t", lookbackDays: 0)));
        Assert.Equal(31, CronJobCommand.LookbackDays("CALL _wh.refresh_recent_by_template('f', E'c\\x', 't''s', 31)"));
        Assert.Null(CronJobCommand.LookbackDays("SELECT _wh.update_mv_by_template('f', 'c', 't', CURRENT_DATE)"));
        Assert.Equal("SELECT _wh.update_mv_by_template('foodlogstats', 'c', 't', CURRENT_DATE, false)",
            CronJobCommand.Build("foodlogstats", "c", "t", refreshYesterday: false));

        var awkward = CronJobCommand.Build("t'pl", "c\\o'n", "s");
        Assert.Equal("CALL _wh.refresh_recent_by_template('t''pl', E'c\\\\o''n', 's', 7)", awkward);
        Assert.Equal(("t'pl", "c\\o'n", "s"), CronJobCommand.Parse(awkward));
        // The guide's own form, written by hand, is recognized too.
        Assert.Equal(("foodlogstats", "tenant_a_conn", "tenant_a"),
            CronJobCommand.Parse("SELECT _wh.update_mv_by_template( 'foodlogstats','tenant_a_conn' ,'tenant_a', CURRENT_DATE);"));
        Assert.Null(CronJobCommand.Parse("SELECT _wh.update_foodlogstats('tenant_a_conn', 'tenant_a', CURRENT_DATE)"));
        Assert.Equal("wh_tenant_a_foodlogstats", CronJobCommand.DefaultName("tenant_a", "foodlogstats"));
    }

    private static DateTime Utc(string text) => DateTime.Parse(text, null, System.Globalization.DateTimeStyles.AdjustToUniversal);
}
