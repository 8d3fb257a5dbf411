using System.Diagnostics;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium (<c>apt-get install chromium</c>; ./build.ps1 Test installs it) taking a screenshot of a page,
/// as a DBA's browser shows it. A profile folder of its own per call, so parallel tests never share one.
/// </summary>
public static class HeadlessChromium
{
    public static string Program =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("Chromium is not installed: apt-get install chromium (./build.ps1 Test installs it).");

    /// <summary>A PNG of <paramref name="page"/> in a <paramref name="width"/>×<paramref name="height"/> window.</summary>
    public static PngImage Screenshot(string page, int width, int height, string? keepAs = null)
    {
        var work = Directory.CreateTempSubdirectory("wh-chromium-");
        try
        {
            var png = Path.Combine(work.FullName, "screenshot.png");
            var start = new ProcessStartInfo(Program)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            };
            foreach (var argument in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--force-device-scale-factor=1",
                         $"--user-data-dir={Path.Combine(work.FullName, "profile")}", $"--screenshot={png}", $"--window-size={width},{height}",
                         new Uri(page).AbsoluteUri,
                     })
                start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var errors = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium did not finish its screenshot of {page} in 90 s: {errors.Result}");
            }
            if (process.ExitCode != 0 || !File.Exists(png))
                throw new InvalidOperationException($"chromium exited {process.ExitCode} without a screenshot: {output.Result} {errors.Result}");
            if (keepAs is not null) File.Copy(png, keepAs, overwrite: true);
            return PngImage.Read(png);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
