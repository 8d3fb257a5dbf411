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

internal sealed record ProcessOutput(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs a program to completion, as another OS user when asked (initdb refuses to run as root).</summary>
internal static class ProcessRunner
{
    public static ProcessOutput Run(string program, IReadOnlyList<string> arguments, string? asUser, TimeSpan timeout)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Its own, closed standard input: a child (runuser, pg_ctl, the server it starts) never reads the DBA's
            // terminal, so what is typed while Start-WhSandbox runs stays for the shell (issue 29, item 10).
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (asUser is null)
        {
            start.FileName = program;
        }
        else
        {
            start.FileName = "runuser";
            foreach (var prefix in new[] { "-u", asUser, "--", program }) start.ArgumentList.Add(prefix);
        }
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{Path.GetFileName(program)} did not finish within {timeout.TotalSeconds:0} s.");
        }
        return new ProcessOutput(process.ExitCode, stdout.Result, stderr.Result);
    }
}
