namespace PhoodWarehouse.Core.Schedules;

/// <summary>What Clear-WhCronJobRun deleted.</summary>
public sealed record WhCronHistoryCleared(long Deleted, TimeSpan OlderThan, DateTime CutoffUtc, string User);
