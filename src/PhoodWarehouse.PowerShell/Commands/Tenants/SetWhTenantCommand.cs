namespace PhoodWarehouse.PowerShell.Commands.Tenants;

/// <summary>
/// Changes a tenant's source (server, port, database, credential) or client name. A new credential is one
/// ALTER USER MAPPING: every existing daily view uses it at its next refresh, none is re-created.
/// </summary>
[Cmdlet(VerbsCommon.Set, "WhTenant", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhTenant))]
public sealed class SetWhTenantCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? SourceServer { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 65535)]
    public int? SourcePort { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? SourceDatabase { get; set; }

    [Parameter]
    [Credential]
    public PSCredential? SourceCredential { get; set; }

    /// <summary>
    /// libpq's sslmode for the source: disable, allow, prefer, require, verify-ca or verify-full (certificate and host name
    /// checked). Default: libpq's (prefer). Checked by the SQL layer (one home for the rule); an empty value leaves it unset.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? SourceSslMode { get; set; }

    /// <summary>
    /// libpq's channel_binding for the source: disable, prefer or require (the server must prove it holds the SCRAM
    /// secret, so a fake server cannot collect the password). Default: libpq's (prefer). Checked by the SQL layer.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? SourceChannelBinding { get; set; }

    /// <summary>
    /// libpq's sslrootcert for the source: the CA file that verify-ca and verify-full check the source's certificate against.
    /// An absolute path on the warehouse server (dblink connects from the server process, so its OS user, postgres, must be
    /// able to read it), not on this machine. Default: libpq's (~/.postgresql/root.crt of that user). Checked by the SQL layer.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? SourceSslRootCert { get; set; }


    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? ClientName { get; set; }

    /// <summary>IANA time zone of the tenant's logged_time; '' removes it (the warehouse's clock again).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(TimeZoneCompleter))]
    public string? TimeZone { get; set; }

    /// <summary>
    /// How long after its day ends (on its clock) a tenant's day must be finished; past it, an unfinished yesterday is
    /// Late (Get-WhMvFreshness, Get-WhHealth, the monitoring views). $null: the warehouse's setting freshness_sla again.
    /// </summary>
    [Parameter]
    public TimeSpan? FreshnessSla { get; set; }

    /// <summary>Store a changed source without testing it through dblink first (by default a source that refuses changes nothing).</summary>
    [Parameter]
    public SwitchParameter SkipConnectionTest { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var changes = new TenantChanges
        {
            SourceServer = SourceServer,
            SourcePort = SourcePort,
            SourceDatabase = SourceDatabase,
            SourceUser = SourceCredential?.UserName,
            SourcePassword = SourceCredential?.GetNetworkCredential().Password,
            SourceSslMode = string.IsNullOrEmpty(SourceSslMode) ? null : SourceSslMode,
            SourceChannelBinding = string.IsNullOrEmpty(SourceChannelBinding) ? null : SourceChannelBinding,
            SourceSslRootCert = string.IsNullOrEmpty(SourceSslRootCert) ? null : SourceSslRootCert,
            ClientName = ClientName,
            TimeZone = TimeZone,
            SetsFreshnessSla = MyInvocation.BoundParameters.ContainsKey(nameof(FreshnessSla)),
            FreshnessSla = FreshnessSla,
            TestConnection = !SkipConnectionTest,
        };
        var description = changes.Describe();
        if (description.Length == 0)
        {
            WriteWhError(new WarehouseException("NothingToChange", WhErrorKind.InvalidArgument,
                "Nothing to change: give -SourceServer, -SourcePort, -SourceDatabase, -SourceSslMode, -SourceChannelBinding, -SourceSslRootCert, -SourceCredential, -ClientName, -TimeZone or -FreshnessSla.", Name));
            return;
        }
        if (!ShouldProcess(Name, "Change tenant: " + description)) return;
        try
        {
            WriteObject(Run(cancel => new TenantStore(warehouse, Logger).UpdateAsync(Name, changes, cancel)));
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
    }
}
