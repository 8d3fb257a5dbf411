using PhoodWarehouse.Core.DailyViews;

namespace PhoodWarehouse.Core.Health;

/// <summary>What a check reads: the session it runs on, the thresholds, and the freshness engine's rows when asked for.</summary>
internal sealed record HealthReading(NpgsqlConnection Db, HealthThresholds Limits, Task<List<WhMvFreshness>>? Freshness);
