using System.Diagnostics;
using PhoodWarehouse.Tests.Infrastructure;
using Xunit;

namespace PhoodWarehouse.Tests.Native;

/// <summary>
/// The README's "try it" command, as a user runs it: the launcher process on docs/examples/quickstart.ps1,
/// against a sandbox it starts itself. Exit code 0 and the lines that show each step worked.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class QuickstartLauncherTests
{
    private static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";

    private static string Launcher => Path.Combine(RepositoryPaths.Root, "src", "PhoodWarehouse.Host", "bin", Configuration, "net10.0", "PhoodWarehouse.Host.dll");

    private static (int ExitCode, string Output, string Errors) RunLauncher(string script, TimeSpan timeout)
    {
        Assert.True(File.Exists(Launcher), $"{Launcher} is missing: build the solution first");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryPaths.Root,
        };
        start.ArgumentList.Add(Launcher);
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the launcher did not finish in {timeout}: {output.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result, errors.Result);
    }

    [Fact]
    public void Quickstart_runs_end_to_end_through_the_launcher()
    {
        var (exit, output, errors) = RunLauncher(Path.Combine("docs", "examples", "quickstart.ps1"), TimeSpan.FromMinutes(5));

        Assert.True(exit == 0, $"exit {exit}\n{output}\n{errors}");
        Assert.Contains("Endpoint", output);                         // the WhSandbox table view
        Assert.Contains("phood_warehouse", output);
        Assert.Contains("[progress] Loading foodlogstats for 3 tenant(s)", output);
        Assert.Contains("Loaded 90 daily views (0 failed).", output);
        Assert.Contains("Client", output);                           // the phood_ro report
        Assert.Contains("Removed harbor_hotel", output);
        Assert.Contains("deleted: True", output);
        Assert.Contains("Quickstart finished.", output);
        Assert.False(output.Contains('\u001b'), "ANSI escape sequences in the output");   // plain text (ordinal: ICU ignores ESC)
        var folder = System.Text.RegularExpressions.Regex.Match(output, @"Stopped; (\S+) deleted").Groups[1].Value;
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void A_failing_script_exits_non_zero_and_says_why()
    {
        var script = Path.Combine(Path.GetTempPath(), $"phoodwh-fail-{Guid.NewGuid():N}.ps1");
        File.WriteAllText(script, "$ErrorActionPreference = 'Stop'\n'before'\nGet-WhTenant\n'after'\n");
        try
        {
            var (exit, output, errors) = RunLauncher(script, TimeSpan.FromMinutes(1));
            Assert.NotEqual(0, exit);
            Assert.Contains("before", output);
            Assert.DoesNotContain("after", output);
            Assert.Contains("Not connected", errors);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public void Exit_codes_from_the_script_are_kept()
    {
        var script = Path.Combine(Path.GetTempPath(), $"phoodwh-exit-{Guid.NewGuid():N}.ps1");
        File.WriteAllText(script, "exit 7\n");
        try
        {
            Assert.Equal(7, RunLauncher(script, TimeSpan.FromMinutes(1)).ExitCode);
        }
        finally
        {
            File.Delete(script);
        }
    }
}
