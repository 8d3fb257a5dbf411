using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>
/// One health check of Get-WhHealth: its name and how it reads the warehouse. Every check is registered once, in
/// <see cref="HealthInspector.Checks"/>, the list HealthCheckNames.All is read from. The helpers below are what the
/// checks share: an Ok result, sizes and short messages (rows are read with <c>Db.ReadAllAsync</c>).
/// </summary>
internal abstract class HealthCheck
{
    protected const double GB = 1024d * 1024 * 1024;

    public abstract string Name { get; }

    /// <summary>Whether it needs the freshness engine's rows (read on a second connection while the others run).</summary>
    public virtual bool NeedsFreshness => false;

    public abstract Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel);

    protected static WhHealthCheck Ok(string check, string value, string threshold, string message) =>
        new() { Check = check, Status = WhHealthStatus.Ok, Value = value, Threshold = threshold, Message = message };

    protected static string Shorten(string text) => text.Length <= 160 ? text.Trim() : text[..157].Trim() + "…";

    protected static string Size(long bytes)
    {
        string[] units = ["bytes", "kB", "MB", "GB", "TB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1) { value /= 1024; unit++; }
        return unit == 0 ? $"{bytes} bytes" : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }
}
