namespace PhoodWarehouse.PowerShell.Infrastructure;

/// <summary>
/// The base of every cmdlet that works on a warehouse: <see cref="WhAsyncCmdlet"/> plus -Connection (or the session
/// default that Connect-WhWarehouse set), refused when it is missing, a superuser session (SuperuserSession) or an
/// outdated schema (SchemaOutdated). Connect-WhWarehouse and Start-WhSandbox make a connection rather than take one,
/// so they derive from <see cref="WhAsyncCmdlet"/> and have no -Connection.
/// </summary>
public abstract class WhCmdlet : WhAsyncCmdlet
{
    /// <summary>The warehouse to work on; defaults to the one Connect-WhWarehouse set for this session.</summary>
    [Parameter]
    public WhConnection? Connection { get; set; }

    /// <summary>
    /// Whether this cmdlet may run in a superuser session: only Install-WhWarehouse (the superuser part) and
    /// Get-WhWarehouse (pg_catalog only) do. Every other cmdlet refuses it (docs/security.md).
    /// </summary>
    protected virtual bool SuperuserAllowed => false;

    /// <summary>
    /// False for the commands that must work whatever schema version the warehouse has (Install-WhWarehouse,
    /// Get-WhWarehouse); every other command refuses a warehouse whose schema is not the one this module needs.
    /// </summary>
    protected virtual bool RequiresCurrentSchema => true;

    /// <summary>
    /// -Connection, or the session default; a terminating error when there is neither, when it is a superuser
    /// session and this cmdlet does warehouse work (SuperuserSession), or when its schema is outdated (SchemaOutdated).
    /// </summary>
    protected WhConnection Warehouse
    {
        get
        {
            var connection = Connection ?? DefaultConnection.Current;
            if (connection is null || connection.IsDisposed)
                ThrowTerminatingError(new ErrorRecord(
                    new InvalidOperationException("Not connected to a warehouse. Run Connect-WhWarehouse first, or pass -Connection."),
                    "NotConnected", ErrorCategory.ConnectionError, null));
            if (connection!.IsSuperuser && !SuperuserAllowed) ThrowWhError(SuperuserSession.Refusal(connection));
            if (RequiresCurrentSchema)
            {
                try { Core.Install.SchemaVersion.EnsureCurrent(connection); }
                catch (WarehouseException error) { ThrowWhError(error); }
            }
            return connection;
        }
    }

    /// <summary>A non-terminating TenantNotFound for each name without wildcards that matched none of <paramref name="found"/>.</summary>
    protected void WriteUnmatchedTenants(IEnumerable<NamePattern> patterns, IReadOnlyCollection<string> found)
    {
        foreach (var pattern in patterns.Where(p => !p.HasWildcards && !found.Any(p.IsMatch)))
            WriteWhError(Core.Tenants.TenantStore.NotFound(pattern.Text));
    }
}
