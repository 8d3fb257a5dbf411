using System.Globalization;
using System.Management.Automation.Host;

namespace PhoodWarehouse.Host;

/// <summary>The smallest PSHost that makes a script feel at home: a console UI, and exit codes from `exit`.</summary>
internal sealed class ConsoleHost : PSHost
{
    private readonly ConsoleHostUI ui = new();

    public int? ExitCode { get; private set; }
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "PhoodWarehouse.Host";
    public override PSHostUserInterface UI => ui;
    public override Version Version => typeof(ConsoleHost).Assembly.GetName().Version ?? new Version(0, 1);

    public override void EnterNestedPrompt() => throw new NotSupportedException("PhoodWarehouse.Host runs scripts; it has no interactive prompt.");
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
}
