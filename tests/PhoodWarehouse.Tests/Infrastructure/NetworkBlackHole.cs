using System.Security.Cryptography;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// A network namespace of the test's own, joined to this host by a veth pair (10.a.b.1 here, <see cref="RemoteAddress"/>
/// inside), whose far end can be cut: <see cref="Cut"/> takes the inner link down with the host's neighbour entry made
/// permanent, so packets to it are dropped in silence (no reset, no "no route": what a firewall or a dead path does),
/// which only TCP's own timers can notice. A PostgreSQL cluster is moved in with <see cref="MoveIn"/>. Needs root and
/// iproute2 (CI runs as root on machines that have both).
/// </summary>
public sealed class NetworkBlackHole : IDisposable
{
    private readonly string name;
    private readonly string hostLink;
    private readonly string innerLink;
    private readonly string hostAddress;

    public string RemoteAddress { get; }

    public NetworkBlackHole()
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        name = "phbh" + id;
        hostLink = "vbh" + id + "h";
        innerLink = "vbh" + id + "i";
        var a = RandomNumberGenerator.GetInt32(1, 255);
        var b = RandomNumberGenerator.GetInt32(0, 64) * 4;
        hostAddress = $"10.{a}.{b / 256}.{b % 256 + 1}";
        RemoteAddress = $"10.{a}.{b / 256}.{b % 256 + 2}";
        Ip("netns", "add", name);
        try
        {
            Ip("link", "add", hostLink, "type", "veth", "peer", "name", innerLink);
            Ip("link", "set", innerLink, "netns", name);
            Ip("addr", "add", hostAddress + "/30", "dev", hostLink);
            Ip("link", "set", hostLink, "up");
            Inside("ip", "addr", "add", RemoteAddress + "/30", "dev", innerLink);
            Inside("ip", "link", "set", innerLink, "up");
            Inside("ip", "link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Restarts <paramref name="cluster"/> inside the namespace, listening on <see cref="RemoteAddress"/> only (its unix
    /// socket, a file, still reaches it from here): logins from this host's end of the pair are let in by password.
    /// </summary>
    public void MoveIn(LocalPostgresCluster cluster)
    {
        var pgCtl = Path.Combine(PostgresBinaries.Find()!.BinDirectory, "pg_ctl");
        // A clean stop (a checkpoint): the cluster commits asynchronously, and an immediate stop would lose the last ones.
        TestProgram.Run("runuser", ["-u", "postgres", "--", pgCtl, "-D", cluster.DataDirectory, "-m", "fast", "-w", "stop"]).Succeeded("pg_ctl stop");
        File.AppendAllLines(Path.Combine(cluster.DataDirectory, "postgresql.conf"), [$"listen_addresses = '{RemoteAddress}'"]);
        File.AppendAllLines(Path.Combine(cluster.DataDirectory, "pg_hba.conf"), [$"host all all {hostAddress}/32 scram-sha-256"]);
        Inside("runuser", "-u", "postgres", "--", pgCtl, "-D", cluster.DataDirectory, "-l", cluster.LogFile, "-w", "-t", "60", "start");
    }

    /// <summary>Packets to the far end are dropped from now on, without a word to the sender.</summary>
    public void Cut()
    {
        var neighbour = TestProgram.Run("ip", ["neigh", "show", RemoteAddress, "dev", hostLink]).Succeeded("ip neigh show").Split(' ');
        var mac = neighbour.SkipWhile(w => w != "lladdr").Skip(1).FirstOrDefault();
        if (mac is not null) Ip("neigh", "replace", RemoteAddress, "lladdr", mac, "dev", hostLink, "nud", "permanent");
        Inside("ip", "link", "set", innerLink, "down");
    }

    public void Mend() => Inside("ip", "link", "set", innerLink, "up");

    private void Inside(params string[] command) =>
        TestProgram.Run("ip", ["netns", "exec", name, .. command]).Succeeded(string.Join(' ', command));

    private static void Ip(params string[] arguments) => TestProgram.Run("ip", arguments).Succeeded("ip " + string.Join(' ', arguments));

    public void Dispose()
    {
        TestProgram.Run("ip", ["link", "del", hostLink]);
        TestProgram.Run("ip", ["netns", "del", name]);
    }
}
