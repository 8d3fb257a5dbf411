using System.Management.Automation;
using System.Management.Automation.Runspaces;
using PhoodWarehouse.Host;

// Usage: PhoodWarehouse.Host <script.ps1> [script arguments...]
// Imports the built module (out/PhoodWarehouse, or PHOOD_MODULE), runs the script with its output rendered
// through Out-Default, and exits non-zero when the script fails.
if (args.Length == 0 || args[0] is "-h" or "--help" or "-?")
{
    Console.Error.WriteLine("usage: PhoodWarehouse.Host <script.ps1> [arguments...]   (runs the script with the PhoodWarehouse module imported)");
    return 2;
}
var script = Path.GetFullPath(args[0]);
if (!File.Exists(script))
{
    Console.Error.WriteLine($"Script not found: {script}");
    return 2;
}
var module = ModuleLocator.Find(script);
if (module is null)
{
    Console.Error.WriteLine("The built module was not found (out/PhoodWarehouse/PhoodWarehouse.psd1 above the script or the current folder). " +
                            "Build it first: dotnet build -c Release PhoodWarehouse.sln, or set PHOOD_MODULE to the .psd1.");
    return 2;
}

var host = new ConsoleHost();
using var runspace = RunspaceFactory.CreateRunspace(host, InitialSessionState.CreateDefault2());
runspace.Open();
using var cancel = new CancellationTokenSource();

using (var setup = PowerShell.Create(runspace))
{
    setup.AddScript("$PSStyle.OutputRendering = 'PlainText'; $ProgressPreference = 'Continue'; Import-Module -Name $args[0] -ErrorAction Stop")
        .AddArgument(module);
    try { setup.Invoke(); }
    catch (RuntimeException error)
    {
        Console.Error.WriteLine($"Import-Module {module} failed: {error.Message}");
        return 3;
    }
}

using var shell = PowerShell.Create(runspace);
shell.AddCommand(script);
foreach (var argument in args.Skip(1)) shell.AddArgument(argument);
shell.AddCommand("Out-Default");
// Errors go through Out-Default too, so that they show in the order they happen.
shell.Commands.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    shell.BeginStop(null, null);
};

try
{
    shell.Invoke();
}
catch (RuntimeException error)
{
    host.UI.WriteErrorLine(error.ErrorRecord?.ToString() ?? error.Message);
    if (error.ErrorRecord?.InvocationInfo?.PositionMessage is { Length: > 0 } position) host.UI.WriteErrorLine(position);
    return 1;
}
finally
{
    host.UI.WriteLine();
}
// A script-terminating error that reached the merged output stream still fails the invocation.
if (shell.InvocationStateInfo.State == PSInvocationState.Failed)
{
    host.UI.WriteErrorLine(shell.InvocationStateInfo.Reason?.Message ?? "The script failed.");
    return 1;
}
if (host.ExitCode is { } exit) return exit;
return runspace.SessionStateProxy.GetVariable("LASTEXITCODE") is int code && code != 0 ? code : 0;
