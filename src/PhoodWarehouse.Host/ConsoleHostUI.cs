using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace PhoodWarehouse.Host;

/// <summary>
/// Writes to the console: output, errors (stderr), warnings, verbose, a one-line progress bar
/// (one line per 25% when the output is redirected), and prompts -Confirm through PromptForChoice.
/// </summary>
internal sealed partial class ConsoleHostUI : PSHostUserInterface
{
    // The formatter styles table headers with ANSI sequences whatever $PSStyle.OutputRendering says when the host is
    // not the console host; a launcher's output is read in logs and CI, so it is always plain text.
    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")]
    private static partial System.Text.RegularExpressions.Regex AnsiSequence();

    private readonly ConsoleRawUI raw = new();
    private readonly Dictionary<long, int> lastReportedQuarter = [];
    private bool progressLineOpen;

    public override PSHostRawUserInterface RawUI => raw;

    public override void Write(string value) => Out(value);
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Out(value);
    public override void WriteLine(string value) => Out(value + Environment.NewLine);
    public override void WriteErrorLine(string value) { EndProgressLine(); Console.Error.WriteLine(AnsiSequence().Replace(value, "")); }
    public override void WriteDebugLine(string message) => WriteLine("DEBUG: " + message);
    public override void WriteVerboseLine(string message) => WriteLine("VERBOSE: " + message);
    public override void WriteWarningLine(string message) => WriteLine("WARNING: " + message);
    public override void WriteInformation(InformationRecord record) { }

    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
        var percent = Math.Clamp(record.PercentComplete, 0, 100);
        var done = record.RecordType == ProgressRecordType.Completed;
        if (Console.IsOutputRedirected)
        {
            // A log, not an animation: the start, every quarter, the end.
            if (done && !lastReportedQuarter.ContainsKey(record.ActivityId)) return;
            var quarter = done ? 4 : percent / 25;
            if (lastReportedQuarter.TryGetValue(record.ActivityId, out var last) && last >= quarter) return;
            lastReportedQuarter[record.ActivityId] = quarter;
            if (done) { lastReportedQuarter.Remove(record.ActivityId); Console.Out.WriteLine($"[progress] {record.Activity}: done"); return; }
            Console.Out.WriteLine($"[progress] {record.Activity}: {record.StatusDescription} {percent}%");
            return;
        }
        if (done)
        {
            EndProgressLine();
            return;
        }
        var width = Math.Max(40, raw.BufferSize.Width - 1);
        const int bar = 20;
        var filled = percent * bar / 100;
        var eta = record.SecondsRemaining > 0 ? $" {TimeSpan.FromSeconds(record.SecondsRemaining):m\\:ss} left" : "";
        var line = $"[{new string('#', filled)}{new string('.', bar - filled)}] {percent,3}% {record.StatusDescription}{eta}";
        if (line.Length > width) line = line[..width];
        Console.Out.Write("\r" + line.PadRight(width));
        progressLineOpen = true;
    }

    public override string ReadLine()
    {
        EndProgressLine();
        return Console.ReadLine() ?? "";
    }

    public override SecureString ReadLineAsSecureString()
    {
        var secure = new SecureString();
        foreach (var c in ReadLine()) secure.AppendChar(c);
        return secure;
    }

    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
    {
        WriteCaption(caption, message);
        var answers = new Dictionary<string, PSObject>();
        foreach (var field in descriptions)
        {
            Write(field.Name + ": ");
            answers[field.Name] = field.ParameterTypeFullName == typeof(SecureString).FullName
                ? PSObject.AsPSObject(ReadLineAsSecureString())
                : PSObject.AsPSObject(ReadLine());
        }
        return answers;
    }

    /// <summary>-Confirm and ShouldContinue land here. No answer (input closed) takes the default choice.</summary>
    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
    {
        WriteCaption(caption, message);
        var labels = choices.Select(c => Hotkey(c.Label)).ToList();
        var menu = string.Join("  ", choices.Select((c, i) => $"[{labels[i]}] {c.Label.Replace("&", "")}"));
        while (true)
        {
            var suffix = defaultChoice >= 0 ? $" (default is \"{labels[defaultChoice]}\"): " : ": ";
            Write(menu + suffix);
            var line = Console.ReadLine();
            if (line is null)
            {
                WriteLine();
                return defaultChoice;
            }
            line = line.Trim();
            if (line.Length == 0 && defaultChoice >= 0) return defaultChoice;
            var index = labels.FindIndex(l => string.Equals(l, line, StringComparison.OrdinalIgnoreCase));
            if (index < 0) index = choices.ToList().FindIndex(c => string.Equals(c.Label.Replace("&", ""), line, StringComparison.OrdinalIgnoreCase));
            if (index >= 0) return index;
        }
    }

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
    {
        WriteCaption(caption, message);
        if (string.IsNullOrEmpty(userName))
        {
            Write("User: ");
            userName = ReadLine();
        }
        Write($"Password for {userName}: ");
        return new PSCredential(userName, ReadLineAsSecureString());
    }

    private void WriteCaption(string caption, string message)
    {
        if (!string.IsNullOrEmpty(caption)) WriteLine(caption);
        if (!string.IsNullOrEmpty(message)) WriteLine(message);
    }

    private static string Hotkey(string label)
    {
        var amp = label.IndexOf('&');
        return amp >= 0 && amp + 1 < label.Length ? label[amp + 1].ToString().ToUpperInvariant() : label;
    }

    // An escape sequence may arrive split over two writes: hold back an unfinished one until the next write.
    private string pending = "";

    private void Out(string value)
    {
        EndProgressLine();
        value = pending + value;
        var cut = value.LastIndexOf('\x1b');
        pending = cut >= 0 && !AnsiSequence().IsMatch(value[cut..]) && value.Length - cut < 32 ? value[cut..] : "";
        if (pending.Length > 0) value = value[..cut];
        Console.Out.Write(AnsiSequence().Replace(value, "").Replace("\x1b", ""));
    }

    private void EndProgressLine()
    {
        if (!progressLineOpen) return;
        progressLineOpen = false;
        Console.Out.Write("\r" + new string(' ', Math.Max(40, raw.BufferSize.Width - 1)) + "\r");
    }
}

/// <summary>Just enough of a raw UI for table formatting: the console's width (120 columns when redirected).</summary>
internal sealed class ConsoleRawUI : PSHostRawUserInterface
{
    private const int RedirectedWidth = 120;

    private static int Width
    {
        get
        {
            if (Console.IsOutputRedirected) return RedirectedWidth;
            try { return Console.WindowWidth > 0 ? Console.WindowWidth : RedirectedWidth; }
            catch (IOException) { return RedirectedWidth; }
        }
    }

    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
    public override Size BufferSize { get => new(Width, 9999); set { } }
    public override Coordinates CursorPosition { get; set; }
    public override int CursorSize { get; set; } = 1;
    public override bool KeyAvailable => false;
    public override Size MaxPhysicalWindowSize => new(Width, 100);
    public override Size MaxWindowSize => new(Width, 100);
    public override Coordinates WindowPosition { get; set; }
    public override Size WindowSize { get => new(Width, 50); set { } }
    public override string WindowTitle { get; set; } = "PhoodWarehouse";

    public override void FlushInputBuffer() { }
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("PhoodWarehouse.Host does not read keys.");
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
}
