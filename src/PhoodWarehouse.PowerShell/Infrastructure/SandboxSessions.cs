using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using PhoodWarehouse.Core.Sandbox;

namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>The sandboxes a runspace started, with the connection Start-WhSandbox made its default.</summary>
internal static class SandboxSessions
{
    private static readonly ConcurrentDictionary<Guid, List<(WhSandbox Sandbox, WhConnection Connection)>> ByRunspace = new();

    private static Guid Key => Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;

    public static void Add(WhSandbox sandbox, WhConnection connection)
    {
        var list = ByRunspace.GetOrAdd(Key, _ => []);
        lock (list) list.Add((sandbox, connection));
    }

    public static IReadOnlyList<WhSandbox> Running()
    {
        if (!ByRunspace.TryGetValue(Key, out var list)) return [];
        lock (list) return list.Where(s => s.Sandbox.IsRunning).Select(s => s.Sandbox).ToList();
    }

    /// <summary>Forgets the sandbox and closes the connection it made (and the session default, if it is that one).</summary>
    public static void Remove(WhSandbox sandbox)
    {
        if (!ByRunspace.TryGetValue(Key, out var list)) return;
        lock (list)
        {
            foreach (var entry in list.Where(s => ReferenceEquals(s.Sandbox, sandbox)).ToList())
            {
                DefaultConnection.Clear(entry.Connection);
                entry.Connection.Dispose();
                list.Remove(entry);
            }
        }
    }
}
