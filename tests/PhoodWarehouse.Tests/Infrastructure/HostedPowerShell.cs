using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>What a script produced, stream by stream, as PowerShell itself recorded it.</summary>
public sealed record ScriptResult(
    IReadOnlyList<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    IReadOnlyList<WarningRecord> Warnings,
    IReadOnlyList<VerboseRecord> Verbose,
    IReadOnlyList<DebugRecord> Debug,
    IReadOnlyList<ProgressRecord> Progress,
    IReadOnlyList<InformationRecord> Information,
    ErrorRecord? TerminatingError)
{
    public bool Succeeded => Errors.Count == 0 && TerminatingError is null;

    /// <summary>PowerShell's own word that something failed (an error that was written, even if ignored or caught).</summary>
    public bool HadErrors { get; init; }

    /// <summary>Every line the script wrote to the host, as a user's console shows it (Write-Host, "What if: ...").</summary>
    public IReadOnlyList<string> HostLines { get; init; } = [];

    /// <summary>
    /// What -WhatIf said it would do, one "action | target" line per ShouldProcess call, from the host's
    /// "What if: Performing the operation "action" on target "target"." lines.
    /// </summary>
    public IReadOnlyList<string> WhatIf => HostLines
        .Select(line => WhatIfLine.Match(line))
        .Where(m => m.Success)
        .Select(m => $"{m.Groups["action"].Value} | {m.Groups["target"].Value}")
        .ToList();

    private static readonly System.Text.RegularExpressions.Regex WhatIfLine =
        new("^What if: Performing the operation \"(?<action>.*)\" on target \"(?<target>.*)\"\\.$", System.Text.RegularExpressions.RegexOptions.Singleline);

    /// <summary>Asserts that the run wrote no error record, threw nothing and PowerShell saw no error, showing every error when not.</summary>
    public void AssertSucceeded()
    {
        Assert.True(Succeeded && !HadErrors, $"expected success (HadErrors {HadErrors}); errors: {string.Join(" | ", AllErrors)}");
    }

    public IEnumerable<ErrorRecord> AllErrors => TerminatingError is null ? Errors : Errors.Append(TerminatingError);

    /// <summary>
    /// The first error of the run. A cmdlet's ThrowTerminatingError stops its statement and lands in the error
    /// stream of a script; only a script-terminating error (throw, -ErrorAction Stop) ends up in <see cref="TerminatingError"/>.
    /// </summary>
    public ErrorRecord? FirstError => Errors.FirstOrDefault() ?? TerminatingError;

    public T Single<T>()
    {
        Assert.True(Output.Count == 1, $"expected one output object, got {Output.Count}; errors: {string.Join(" | ", AllErrors)}");
        return (T)Output[0].BaseObject;
    }

    /// <summary>Asserts that the first error has the stable id <paramref name="errorId"/>, showing the whole error when not.</summary>
    public ErrorRecord AssertError(string errorId)
    {
        var error = FirstError;
        Assert.True(error is not null && error.FullyQualifiedErrorId.StartsWith(errorId + ",", StringComparison.Ordinal),
            $"expected error {errorId}, got: {error?.FullyQualifiedErrorId}: {error}");
        return error!;
    }

    public IReadOnlyList<T> All<T>() => Output.Select(o => (T)o.BaseObject).ToList();

    /// <summary>Every word any stream carried, objects rendered through their properties: for secret scans.</summary>
    public string AllText()
    {
        var text = new StringBuilder();
        foreach (var item in Output)
        {
            text.AppendLine(item.ToString());
            foreach (var property in item.Properties)
            {
                object? value;
                try { value = property.Value; } catch (GetValueException) { continue; }
                text.AppendLine(value is IEnumerable list and not string ? string.Join(",", list.Cast<object>()) : value?.ToString());
            }
        }
        foreach (var error in AllErrors)
        {
            text.AppendLine(error.ToString()).AppendLine(error.Exception?.ToString()).AppendLine(error.ErrorDetails?.Message)
                .AppendLine(error.TargetObject?.ToString()).AppendLine(error.CategoryInfo.ToString());
        }
        foreach (var record in Warnings) text.AppendLine(record.Message);
        foreach (var record in Verbose) text.AppendLine(record.Message);
        foreach (var record in Debug) text.AppendLine(record.Message);
        foreach (var record in Progress) text.AppendLine(record.Activity).AppendLine(record.StatusDescription).AppendLine(record.CurrentOperation);
        foreach (var record in Information) text.AppendLine(record.MessageData?.ToString());
        return text.ToString();
    }
}

/// <summary>A script that <see cref="HostedPowerShell.Start"/> started: its result to come, and its verbose messages so far.</summary>
public sealed record RunningScript(Task<ScriptResult> Result, System.Collections.Concurrent.ConcurrentQueue<string> Verbose)
{
    public IReadOnlyList<string> VerboseSoFar() => Verbose.ToArray();
}

/// <summary>
/// The PowerShell 7.6 engine hosted in this process, with the built module imported from out/PhoodWarehouse,
/// as a user imports it. One runspace per instance; variables carry values (credentials) into scripts.
/// </summary>
public sealed class HostedPowerShell : IDisposable
{
    private readonly Runspace runspace;
    private readonly RecordingHost host = new();

    /// <param name="recordHost">
    /// True: the runspace has the <see cref="RecordingHost"/> (the "What if:" lines are in <see cref="ScriptResult.HostLines"/>).
    /// False: no host, the engine's default: nothing is recorded and nothing can prompt.
    /// </param>
    public HostedPowerShell(bool recordHost = true)
    {
        var state = InitialSessionState.CreateDefault2();
        runspace = recordHost ? RunspaceFactory.CreateRunspace(host, state) : RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        var import = Run($"Import-Module '{RepositoryPaths.ModuleManifest}' -ErrorAction Stop");
        if (!import.Succeeded)
            throw new InvalidOperationException("Import-Module failed: " + string.Join("; ", import.AllErrors.Select(e => e.ToString())));
    }

    public void SetVariable(string name, object? value) => runspace.SessionStateProxy.SetVariable(name, value);

    public ScriptResult Run(string script, IDictionary<string, object?>? variables = null)
    {
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>()) SetVariable(name, value);
        using var shell = System.Management.Automation.PowerShell.Create(runspace);
        shell.AddScript(script);
        return Collect(shell, () => shell.Invoke());
    }

    /// <summary>
    /// Starts a script on a thread of its own and returns at once: <see cref="RunningScript.VerboseSoFar"/> shows the
    /// verbose messages as the cmdlets write them, so a test can wait for a step the module reports before acting.
    /// </summary>
    public RunningScript Start(string script, IDictionary<string, object?>? variables = null)
    {
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>()) SetVariable(name, value);
        var shell = System.Management.Automation.PowerShell.Create(runspace);
        shell.AddScript(script);
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        shell.Streams.Verbose.DataAdded += (sender, e) => seen.Enqueue(((PSDataCollection<VerboseRecord>)sender!)[e.Index].Message);
        var result = Task.Run(() =>
        {
            using (shell) return Collect(shell, () => shell.Invoke());
        });
        return new RunningScript(result, seen);
    }

    /// <summary>Starts a script and, once <paramref name="stopWhen"/> holds (or the timeout passes), stops it as Ctrl+C does.</summary>
    public ScriptResult RunAndStop(string script, Func<bool> stopWhen, TimeSpan timeout)
    {
        using var shell = System.Management.Automation.PowerShell.Create(runspace);
        shell.AddScript(script);
        return Collect(shell, () =>
        {
            var output = new PSDataCollection<PSObject>();
            var handle = shell.BeginInvoke<PSObject, PSObject>(null, output);
            var deadline = DateTime.UtcNow + timeout;
            while (!stopWhen() && DateTime.UtcNow < deadline && !handle.IsCompleted) Thread.Sleep(50);
            shell.Stop();
            try { shell.EndInvoke(handle); } catch (PipelineStoppedException) { }
            return output.ToList();
        });
    }

    private ScriptResult Collect(System.Management.Automation.PowerShell shell, Func<IEnumerable<PSObject>> invoke)
    {
        host.TakeLines(); // what an earlier script left unread is not this one's
        var output = new List<PSObject>();
        ErrorRecord? terminating = null;
        try
        {
            output.AddRange(invoke().Where(o => o is not null));
        }
        catch (RuntimeException error)
        {
            terminating = error.ErrorRecord;
        }
        return new ScriptResult(output, shell.Streams.Error.ToList(), shell.Streams.Warning.ToList(),
            shell.Streams.Verbose.ToList(), shell.Streams.Debug.ToList(), shell.Streams.Progress.ToList(),
            shell.Streams.Information.ToList(), terminating)
        {
            HadErrors = shell.HadErrors || terminating is not null,
            HostLines = host.TakeLines(),
        };
    }

    public void Dispose() => runspace.Dispose();
}
