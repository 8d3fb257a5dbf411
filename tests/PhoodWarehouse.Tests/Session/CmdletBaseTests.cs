using System.Management.Automation;
using PhoodWarehouse.Tests.Native;

namespace PhoodWarehouse.Tests.Session;

/// <summary>
/// The two cmdlet bases, through the hosted engine: who has -Connection (and says so in its help), Start-WhSandbox's
/// error records built like every other cmdlet's, and the log bridge writing only to streams someone listens to
/// (a real cmdlet's debug messages following $DebugPreference: tests/Pester/CmdletBases.Tests.ps1).
/// </summary>
public sealed class CmdletBaseTests(ModuleShellFixture fixture) : IClassFixture<ModuleShellFixture>
{
    /// <summary>They make a connection (or stop a sandbox) rather than work on one.</summary>
    private static readonly string[] WithoutConnection = ["Connect-WhWarehouse", "Start-WhSandbox", "Stop-WhSandbox"];

    private readonly HostedPowerShell shell = fixture.PowerShell;

    [Fact]
    public void Connect_WhWarehouse_has_no_Connection_parameter_nor_in_its_help_and_every_warehouse_cmdlet_has_one()
    {
        var result = shell.Run(
            """
            foreach ($name in $cmdlets) {
                $help = Get-Help -Name $name -Full
                [pscustomobject]@{
                    Name       = $name
                    Parameter  = (Get-Command -Name $name).Parameters.ContainsKey('Connection')
                    Documented = @($help.parameters.parameter | Where-Object { $_ -and $_.name -eq 'Connection' }).Count -gt 0
                    InSyntax   = @($help.syntax.syntaxItem | Where-Object { $_ } | ForEach-Object { $_.parameter } | Where-Object { $_ -and $_.name -eq 'Connection' }).Count -gt 0
                }
            }
            """, new Dictionary<string, object?> { ["cmdlets"] = ModuleSurface.ExportedCmdlets().ToArray() });
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var rows = result.Output.ToDictionary(o => (string)o.Properties["Name"].Value, o => (
            Parameter: (bool)o.Properties["Parameter"].Value,
            Documented: (bool)o.Properties["Documented"].Value,
            InSyntax: (bool)o.Properties["InSyntax"].Value));

        Assert.Equal(ModuleSurface.ExportedCmdlets().Count, rows.Count);
        Assert.Equal(WithoutConnection, rows.Where(r => !r.Value.Parameter).Select(r => r.Key).Order(StringComparer.Ordinal));
        foreach (var (name, row) in rows)
        {
            Assert.True(row.Parameter == row.Documented, $"{name}: -Connection {(row.Parameter ? "is a parameter but not in" : "is not a parameter but is in")} its help's parameters");
            Assert.True(row.Parameter == row.InSyntax, $"{name}: -Connection {(row.Parameter ? "is a parameter but not in" : "is not a parameter but is in")} its help's syntax");
        }
    }

    [Theory]
    [MemberData(nameof(ModuleSurface.Cmdlets), MemberType = typeof(ModuleSurface))]
    public void Help_documents_no_parameter_the_cmdlet_does_not_have(string cmdlet)
    {
        var result = shell.Run(
            """
            $declared = @((Get-Command -Name $cmdlet).Parameters.Keys)
            $help = Get-Help -Name $cmdlet -Full
            $inHelp = @($help.parameters.parameter | Where-Object { $_ } | ForEach-Object { $_.name }) +
                      @($help.syntax.syntaxItem | Where-Object { $_ } | ForEach-Object { $_.parameter } | Where-Object { $_ } | ForEach-Object { $_.name })
            @($inHelp | Where-Object { $declared -notcontains $_ })
            """, new Dictionary<string, object?> { ["cmdlet"] = cmdlet });
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var stale = result.Output.Select(o => o.ToString()).Distinct().ToList();
        Assert.True(stale.Count == 0, $"docs/cmdlets/{cmdlet}.md documents parameters {cmdlet} does not have: {string.Join(", ", stale)}");
    }

    [Fact]
    public void Start_WhSandbox_builds_its_error_records_like_every_other_cmdlet()
    {
        var folder = Path.Combine(Path.GetTempPath(), "phoodwh-sbbase-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "keep.txt"), "mine");
        try
        {
            var result = shell.Run("Start-WhSandbox -TenantCount 0 -Path $p", new Dictionary<string, object?> { ["p"] = folder });
            var error = result.AssertError("SandboxPathNotEmpty");
            Assert.Equal("SandboxPathNotEmpty,PhoodWarehouse.PowerShell.Commands.Sandbox.StartWhSandboxCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
            Assert.Equal(folder, error.TargetObject);
            // What every WhCmdlet's record carries: the message that says what to do, as the record's details too.
            Assert.Contains("give it an empty or new folder", error.Exception.Message);
            Assert.Equal(error.Exception.Message, error.ErrorDetails?.Message);
            Assert.True(File.Exists(Path.Combine(folder, "keep.txt")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_connection_string_Npgsql_cannot_read_is_an_InvalidConnectionString_error_that_quotes_none_of_it()
    {
        // A misplaced ';' turns the end of the password into a key that Npgsql does not know.
        var result = shell.Run("Connect-WhWarehouse -ConnectionString 'Host=db.internal;Username=whadmin;Password=s3cr;tPart'");
        var error = result.AssertError("InvalidConnectionString");
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Contains("-ConnectionString", error.ToString());
        Assert.DoesNotContain("s3cr", result.AllText());
        Assert.DoesNotContain("tPart", result.AllText(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The logger of a cmdlet, made the way the bases make it, in an advanced function ($PSCmdlet is a real PSCmdlet):
    /// is Debug/Verbose enabled, how many times a message argument was formatted, and what reached the streams.
    /// </summary>
    private ScriptResult Probe(string call) => shell.Run(
        """
        class CountedValue {
            static [int] $Formatted = 0
            [string] ToString() { [CountedValue]::Formatted++; return 'counted value' }
        }
        function Invoke-LoggerProbe {
            [CmdletBinding()] param()
            $logger = [PhoodWarehouse.PowerShell.Infrastructure.PipelineLogger]::new()
            $logger.ListenLike($PSCmdlet)
            [Microsoft.Extensions.Logging.LoggerExtensions]::LogDebug($logger, 'debug probe {Value}', [object[]]@([CountedValue]::new()))
            [Microsoft.Extensions.Logging.LoggerExtensions]::LogInformation($logger, 'verbose probe {Value}', [object[]]@([CountedValue]::new()))
            $logger.WriteTo($PSCmdlet)
            [pscustomobject]@{
                Debug     = $logger.IsEnabled([Microsoft.Extensions.Logging.LogLevel]::Debug)
                Verbose   = $logger.IsEnabled([Microsoft.Extensions.Logging.LogLevel]::Information)
                Formatted = [CountedValue]::Formatted
            }
        }
        """ + "\n& { " + call + " }"); // a child scope: the preferences set by one call do not outlive it

    private static (bool Debug, bool Verbose, int Formatted) Read(ScriptResult result)
    {
        Assert.True(result.Succeeded, string.Join("; ", result.AllErrors));
        var row = Assert.Single(result.Output);
        return ((bool)row.Properties["Debug"].Value, (bool)row.Properties["Verbose"].Value, (int)row.Properties["Formatted"].Value);
    }

    [Fact]
    public void Debug_and_Verbose_messages_nobody_listens_to_are_not_formatted()
    {
        var result = Probe("$DebugPreference = 'SilentlyContinue'; $VerbosePreference = 'SilentlyContinue'; Invoke-LoggerProbe");
        Assert.Equal((false, false, 0), Read(result));
        Assert.Empty(result.Debug);
        Assert.Empty(result.Verbose);

        var silenced = Probe("$DebugPreference = 'Continue'; $VerbosePreference = 'Continue'; Invoke-LoggerProbe -Debug:$false -Verbose:$false");
        Assert.Equal((false, false, 0), Read(silenced));
        Assert.Empty(silenced.Debug);
        Assert.Empty(silenced.Verbose);
    }

    [Fact]
    public void Debug_is_written_with_the_Debug_switch_or_the_preference_and_Verbose_with_its_own()
    {
        // -Debug turns Verbose on too, as it does for any cmdlet.
        var switched = Probe("$DebugPreference = 'SilentlyContinue'; Invoke-LoggerProbe -Debug");
        Assert.Equal((true, true, 2), Read(switched));
        Assert.Equal(["debug probe counted value"], switched.Debug.Select(d => d.Message));
        Assert.Equal(["verbose probe counted value"], switched.Verbose.Select(v => v.Message));

        var preferred = Probe("$DebugPreference = 'Continue'; $VerbosePreference = 'SilentlyContinue'; Invoke-LoggerProbe");
        Assert.Equal((true, false, 1), Read(preferred));
        Assert.Equal(["debug probe counted value"], preferred.Debug.Select(d => d.Message));
        Assert.Empty(preferred.Verbose);

        var verbose = Probe("$DebugPreference = 'SilentlyContinue'; Invoke-LoggerProbe -Verbose");
        Assert.Equal((false, true, 1), Read(verbose));
        Assert.Empty(verbose.Debug);
        Assert.Equal(["verbose probe counted value"], verbose.Verbose.Select(v => v.Message));
    }
}
