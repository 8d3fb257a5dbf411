using System.Diagnostics;

namespace PhoodWarehouse.Core.Local;

/// <summary>Where the local PostgreSQL server programs are: on PATH, or under /usr/lib/postgresql/*/bin (newest first).</summary>
public sealed record PostgresBinaries(string BinDirectory)
{
    public string InitDb => Path.Combine(BinDirectory, "initdb");
    public string PgCtl => Path.Combine(BinDirectory, "pg_ctl");
    public string PgBaseBackup => Path.Combine(BinDirectory, "pg_basebackup");

    /// <summary>The directory holding server extension libraries (pg_cron.so when pg_cron is installed).</summary>
    public string LibDirectory
    {
        get
        {
            var pgConfig = Path.Combine(BinDirectory, "pg_config");
            if (File.Exists(pgConfig))
            {
                var output = ProcessRunner.Run(pgConfig, ["--pkglibdir"], asUser: null, timeout: TimeSpan.FromSeconds(10));
                if (output.ExitCode == 0) return output.StandardOutput.Trim();
            }
            return Path.GetFullPath(Path.Combine(BinDirectory, "..", "lib"));
        }
    }

    public bool HasPgCron => File.Exists(Path.Combine(LibDirectory, "pg_cron.so"));

    public static PostgresBinaries? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var initdb = Path.Combine(dir, "initdb");
            if (File.Exists(initdb) && File.Exists(Path.Combine(dir, "pg_ctl")))
                return new PostgresBinaries(Path.GetDirectoryName(ResolveLinks(initdb))!);
        }
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(version => Path.Combine(version, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var v) ? v : 0)
            .Select(bin => new PostgresBinaries(bin))
            .FirstOrDefault();
    }

    private static string ResolveLinks(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
}
