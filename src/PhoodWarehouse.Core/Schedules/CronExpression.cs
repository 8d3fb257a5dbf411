using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Schedules;

/// <summary>
/// A five-field cron expression as pg_cron 1.4 reads it (minute hour day-of-month month day-of-week),
/// checked with the Cronos library before anything is scheduled, and able to say when it next runs in
/// pg_cron's time zone. Cronos also knows extensions pg_cron does not (L, W, #, ?, seconds): those are refused
/// here, because pg_cron would refuse them too.
/// </summary>
public sealed partial class CronExpression
{
    public const string Example = "'0 2 * * *' (every day at 02:00) or '*/15 * * * *' (every 15 minutes)";

    private static readonly (string Name, string Range)[] Fields =
    [
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day of month", "1-31"),
        ("month", "1-12 or JAN-DEC"),
        ("day of week", "0-7 or SUN-SAT, 0 and 7 are Sunday"),
    ];

    private static readonly HashSet<string> MonthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    private static readonly HashSet<string> DayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    [GeneratedRegex(@"^[0-9A-Za-z*,/\-]+$")]
    private static partial Regex FieldCharacters();

    [GeneratedRegex("[A-Za-z]+")]
    private static partial Regex Words();

    // Vixie cron (and so pg_cron) runs a job when the day of month OR the day of week matches, if both are
    // restricted (neither starts with '*'); Cronos requires both. Such an expression is kept as two, and the
    // next run is the earlier of the two.
    private readonly Cronos.CronExpression[] parsed;

    private CronExpression(string text, Cronos.CronExpression[] parsed)
    {
        Text = text;
        this.parsed = parsed;
    }

    /// <summary>The expression, fields separated by single spaces.</summary>
    public string Text { get; }

    public override string ToString() => Text;

    /// <summary>Parses or throws <c>InvalidCronExpression</c> with a message that names the wrong field and shows an example.</summary>
    public static CronExpression Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw Invalid(text ?? "", "it is empty. A schedule has five fields: minute hour day-of-month month day-of-week");
        var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5)
            throw Invalid(text, $"it has {fields.Length} field{(fields.Length == 1 ? "" : "s")}, and pg_cron needs exactly five: minute hour day-of-month month day-of-week");

        for (var i = 0; i < 5; i++)
        {
            var (name, range) = Fields[i];
            var field = fields[i];
            if (!FieldCharacters().IsMatch(field))
                throw Invalid(text, FieldProblem(i, field, "it holds characters pg_cron does not accept (only digits, names, *, ',', '-' and '/')"));
            foreach (Match word in Words().Matches(field))
            {
                var names = i == 3 ? MonthNames : i == 4 ? DayNames : null;
                if (names is null || !names.Contains(word.Value.ToUpperInvariant()))
                    throw Invalid(text, FieldProblem(i, field, $"'{word.Value}' is not a valid {name} (allowed: {range})"));
            }
            // Each field alone, the others '*': Cronos then tells which one is out of range or malformed.
            var probe = string.Join(' ', Enumerable.Range(0, 5).Select(j => j == i ? field : "*"));
            if (!Cronos.CronExpression.TryParse(probe, Cronos.CronFormat.Standard, out _))
                throw Invalid(text, FieldProblem(i, field, $"allowed values are {range}, with *, lists (1,15), ranges (1-5) and steps (*/10)"));
        }

        var normalized = string.Join(' ', fields);
        string[] variants = fields[2].StartsWith('*') || fields[4].StartsWith('*')
            ? [normalized]
            : [$"{fields[0]} {fields[1]} {fields[2]} {fields[3]} *", $"{fields[0]} {fields[1]} * {fields[3]} {fields[4]}"];
        var expressions = new List<Cronos.CronExpression>();
        foreach (var variant in variants)
        {
            if (!Cronos.CronExpression.TryParse(variant, Cronos.CronFormat.Standard, out var expression))
                throw Invalid(text, "Cronos could not read it");
            expressions.Add(expression);
        }
        return new CronExpression(normalized, [.. expressions]);
    }

    public static bool TryParse(string? text, out CronExpression? expression)
    {
        try
        {
            expression = Parse(text);
            return true;
        }
        catch (WarehouseException)
        {
            expression = null;
            return false;
        }
    }

    /// <summary>The first time strictly after <paramref name="fromUtc"/> at which pg_cron runs the job, in UTC.</summary>
    public DateTime? NextUtc(DateTime fromUtc, TimeZoneInfo zone) =>
        parsed.Select(p => p.GetNextOccurrence(DateTime.SpecifyKind(fromUtc, DateTimeKind.Utc), zone)).Where(n => n is not null).Min();

    /// <summary>
    /// The time zone pg_cron schedules in: <c>cron.timezone</c> when the server has it, GMT otherwise
    /// (pg_cron 1.4 has no such setting and always uses GMT).
    /// </summary>
    public static TimeZoneInfo ResolveTimeZone(string? cronTimeZone)
    {
        if (string.IsNullOrWhiteSpace(cronTimeZone) || cronTimeZone is "GMT" or "UTC" or "Etc/UTC" or "Etc/GMT") return TimeZoneInfo.Utc;
        return TimeZoneInfo.TryFindSystemTimeZoneById(cronTimeZone, out var zone) ? zone : TimeZoneInfo.Utc;
    }

    private static string FieldProblem(int index, string field, string why) =>
        $"field {index + 1} ({Fields[index].Name}) is '{field}': {why}";

    private static WarehouseException Invalid(string text, string why) =>
        new("InvalidCronExpression", WhErrorKind.InvalidArgument,
            $"The schedule '{text}' is not a valid cron expression: {why}. Example: {Example}.", text);
}
