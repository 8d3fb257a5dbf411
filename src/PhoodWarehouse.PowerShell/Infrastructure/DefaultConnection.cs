using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// The connection set by Connect-WhWarehouse, one per runspace, so that two runspaces in one process
/// (a host running several sessions, or the tests) never share a default by accident.
/// </summary>
internal static class DefaultConnection
{
    private static readonly ConcurrentDictionary<Guid, WhConnection> ByRunspace = new();

    private static Guid Key => Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;

    public static WhConnection? Current =>
        ByRunspace.TryGetValue(Key, out var connection) && !connection.IsDisposed ? connection : null;

    public static void Set(WhConnection connection)
    {
        if (ByRunspace.TryGetValue(Key, out var previous) && !ReferenceEquals(previous, connection)) previous.Dispose();
        ByRunspace[Key] = connection;
    }

    public static void Clear(WhConnection connection)
    {
        if (ByRunspace.TryGetValue(Key, out var current) && ReferenceEquals(current, connection)) ByRunspace.TryRemove(Key, out _);
    }
}
