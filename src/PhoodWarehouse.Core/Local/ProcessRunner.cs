using System.Diagnostics;

namespace PhoodWarehouse.Core.Local;

/// <summary>What a finished program left: its exit code and both streams.</summary>
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
