namespace PhoodWarehouse.Core.Configuration;

/// <summary>
/// One thing an import would do. <see cref="Apply"/> is null when there is nothing to do (Unchanged, Skipped):
/// the planned result is then the outcome. Otherwise <see cref="Description"/> is what -WhatIf shows.
/// </summary>
public sealed record ImportStep(WhImportResult Planned, string? Description, Func<CancellationToken, Task<WhImportResult>>? Apply)
{
    public bool ChangesSomething => Apply is not null;
}
