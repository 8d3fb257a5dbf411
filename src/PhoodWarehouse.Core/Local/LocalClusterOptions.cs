namespace PhoodWarehouse.Core.Local;

/// <summary>Settings for a throwaway cluster.</summary>
public sealed record LocalClusterOptions
{
    /// <summary>Folder to create the cluster in; a new temp folder when null. Deleted on dispose.</summary>
    public string? Path { get; init; }
    /// <summary>Preload pg_cron when the server has it (its jobs run in <see cref="CronDatabase"/>).</summary>
    public bool PreloadPgCron { get; init; } = true;
    public string CronDatabase { get; init; } = "phood_warehouse";
    /// <summary>Extra postgresql.conf lines, e.g. "max_locks_per_transaction = 32".</summary>
    public IReadOnlyList<string> ExtraSettings { get; init; } = [];
    /// <summary>The server programs to run; those <see cref="PostgresBinaries.Find"/> finds when null.</summary>
    public PostgresBinaries? Binaries { get; init; }
    /// <summary>The TCP port to listen on (127.0.0.1); a free one when null. One in use is refused (PortInUse) before anything starts.</summary>
    public int? Port { get; init; }
}
