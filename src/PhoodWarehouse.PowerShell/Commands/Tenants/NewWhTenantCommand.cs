namespace PhoodWarehouse.PowerShell.Commands.Tenants;

/// <summary>
/// Adds a tenant: schema and grants, the secret-free connection, a connection test before anything is created,
/// tenant and public views, and an optional first load. Every parameter binds by property name, so that a list
/// of tenants (a CSV, say) pipes straight in with one shared -SourceCredential.
/// </summary>
[Cmdlet(VerbsCommon.New, "WhTenant", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhTenant))]
public sealed class NewWhTenantCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? ConnectionName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? ClientName { get; set; }

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string SourceServer { get; set; } = "";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 65535)]
    public int SourcePort { get; set; } = 5432;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string SourceDatabase { get; set; } = "";

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Credential]
    public PSCredential SourceCredential { get; set; } = PSCredential.Empty;

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
    public string[] Template { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DateTime? BackfillFrom { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public SwitchParameter SkipConnectionTest { get; set; }

    /// <summary>IANA time zone of the tenant's logged_time (e.g. America/Los_Angeles): its days end at its midnight.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TimeZoneCompleter))]
    public string? TimeZone { get; set; }

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var request = new NewTenantRequest
        {
            Name = Name,
            ConnectionName = string.IsNullOrEmpty(ConnectionName) ? Name : ConnectionName,
            ClientName = string.IsNullOrEmpty(ClientName) ? Name : ClientName,
            SourceServer = SourceServer,
            SourcePort = SourcePort,
            SourceDatabase = SourceDatabase,
            SourceUser = SourceCredential.UserName,
            SourcePassword = SourceCredential.GetNetworkCredential().Password,
            SourceSslMode = string.IsNullOrEmpty(SourceSslMode) ? null : SourceSslMode,
            SourceChannelBinding = string.IsNullOrEmpty(SourceChannelBinding) ? null : SourceChannelBinding,
            SourceSslRootCert = string.IsNullOrEmpty(SourceSslRootCert) ? null : SourceSslRootCert,
            // An empty cell of a CSV (Import-Csv | New-WhTenant) is no template: the default ones.
            Templates = Template.Where(t => !string.IsNullOrWhiteSpace(t)).ToArray(),
            TestConnection = !SkipConnectionTest,
            TimeZone = string.IsNullOrEmpty(TimeZone) ? null : TimeZone,
        };
        var store = new TenantStore(warehouse, Logger);
        try
        {
            var steps = Run(cancel => store.PlanCreateAsync(request, cancel)).ToList();
            if (BackfillFrom is { } from) steps.Add($"load every day from {from:yyyy-MM-dd} to today of the tenant's templates");
            if (!ShouldProcess(Name, "New tenant: " + string.Join("; ", steps))) return;

            var tenant = Run(cancel => store.CreateAsync(request, cancel));
            if (BackfillFrom is { } first)
            {
                var backfill = new BackfillRequest
                {
                    Tenants = [Name],
                    // The templates the tenant got (-Template, or the default ones).
                    Templates = tenant.Templates,
                    From = DateOnly.FromDateTime(first),
                    To = null, // the tenant's today, on its clock
                };
                foreach (var day in RunBackfill(PlanBackfill(backfill)))
                    if (day.Action == MvAction.Failed) WriteError(DayFailed(day));
                tenant = Run(cancel => store.FindAsync(Name, cancel))!;
            }
            WriteObject(tenant);
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
    }
}
