using System.Diagnostics;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>What a program run by a test printed and how it ended.</summary>
public sealed record TestProgramResult(int ExitCode, string Output, string Errors)
{
    /// <summary>The output, or an exception naming the program and what it printed on stderr.</summary>
    public string Succeeded(string what) =>
        ExitCode == 0 ? Output : throw new InvalidOperationException($"{what} failed (exit {ExitCode}): {Errors.Trim()}");
}

/// <summary>Runs an OS program to its end for a test (openssl, cp, kill, runuser, chown), its standard input closed.</summary>
public static class TestProgram
{
    public static TestProgramResult Run(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new TestProgramResult(process.ExitCode, output, errors.Result);
    }
}
