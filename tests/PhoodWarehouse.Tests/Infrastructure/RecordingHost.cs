using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>
/// The smallest host a user's console stands for: it records every line written to the host (where ShouldProcess
/// writes "What if: Performing the operation ... on target ...", and Write-Host its text) and answers no prompt, as a
/// non-interactive session does. Without a host, the engine drops -WhatIf's text, and a test could not check it.
/// </summary>
public sealed class RecordingHost : PSHost
{
    private readonly RecordingHostUserInterface ui = new();

    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "PhoodWarehouse.Tests";
    public override PSHostUserInterface UI => ui;
    public override Version Version { get; } = new(1, 0);

    /// <summary>The lines written since the last call, and forgets them.</summary>
    public IReadOnlyList<string> TakeLines() => ui.TakeLines();

    public override void EnterNestedPrompt() => throw new NotSupportedException("The test host has no nested prompt.");
    public override void ExitNestedPrompt() => throw new NotSupportedException("The test host has no nested prompt.");
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed class RecordingHostUserInterface : PSHostUserInterface
    {
        private readonly object gate = new();
        private readonly List<string> lines = [];
        private string partial = "";

        public override PSHostRawUserInterface? RawUI => null;

        public IReadOnlyList<string> TakeLines()
        {
            lock (gate)
            {
                if (partial.Length > 0) { lines.Add(partial); partial = ""; }
                var taken = lines.ToList();
                lines.Clear();
                return taken;
            }
        }

        public override void Write(string value)
        {
            lock (gate)
            {
                var parts = (partial + value).Split('\n');
                lines.AddRange(parts[..^1].Select(p => p.TrimEnd('\r')));
                partial = parts[^1];
            }
        }

        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Write(value);
        public override void WriteLine(string value) => Write(value + "\n");
        public override void WriteErrorLine(string value) => WriteLine(value);
        public override void WriteDebugLine(string message) => WriteLine("DEBUG: " + message);
        public override void WriteVerboseLine(string message) => WriteLine("VERBOSE: " + message);
        public override void WriteWarningLine(string message) => WriteLine("WARNING: " + message);
        public override void WriteProgress(long sourceId, ProgressRecord record) { }

        public override string ReadLine() => throw NoPrompt("ReadLine");
        public override SecureString ReadLineAsSecureString() => throw NoPrompt("ReadLineAsSecureString");

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
            throw NoPrompt(message);

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) =>
            throw NoPrompt(message);

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw NoPrompt(message);

        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw NoPrompt(message);

        private static HostException NoPrompt(string what) =>
            new($"The test host is not interactive and answers no prompt ({what}): pass -Confirm:$false or the value itself.");
    }
}
