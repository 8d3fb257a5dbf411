using System.Globalization;
using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>The warehouse database's size against its thresholds.</summary>
internal sealed class DatabaseSizeCheck : HealthCheck
{
    public override string Name => HealthCheckNames.DatabaseSize;

    public override async Task<IEnumerable<WhHealthCheck>> RunAsync(HealthReading reading, CancellationToken cancel)
    {
        var db = reading.Db;
        var limits = reading.Limits;
        var bytes = await Db.ScalarAsync<long>(db, "SELECT pg_database_size(current_database())", cancel);
        var status = bytes >= limits.DatabaseSizeCriticalGB * GB ? WhHealthStatus.Critical
            : bytes >= limits.DatabaseSizeWarningGB * GB ? WhHealthStatus.Warning : WhHealthStatus.Ok;
        return [new WhHealthCheck
        {
            Check = HealthCheckNames.DatabaseSize, Status = status, Value = Size(bytes),
            Threshold = $"warning {limits.DatabaseSizeWarningGB} GB, critical {limits.DatabaseSizeCriticalGB} GB",
            Message = status == WhHealthStatus.Ok
                ? "Within limits."
                : "The warehouse database is large: drop daily views older than you report on (the guide's 'Clean Up Old Materialized Views'), check the disk's free space, and see TenantSize for the largest tenants.",
        }];
    }
}
