using PhoodWarehouse.Core.Install;

namespace PhoodWarehouse.PowerShell.Commands.Warehouse;

/// <summary>
/// Installs or upgrades the warehouse in the connected database. Connected as a superuser: the superuser part only
/// (roles, extensions, grants, pg_cron), then, with -WhadminCredential, the _wh part over a second session
/// authenticated as whadmin. Connected as whadmin: the _wh part, in one transaction. A second run finds nothing to do.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "WhWarehouse", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhInstallResult))]
public sealed class InstallWhWarehouseCommand : WhCmdlet
{
    /// <summary>Installing and upgrading is what an outdated schema needs.</summary>
    protected override bool RequiresCurrentSchema => false;
    /// <summary>
    /// whadmin's login, for the _wh part when connected as a superuser: a second session to the same server and
    /// database with the same SSL settings. On a new install whadmin gets this password.
    /// </summary>
    [Parameter]
    [Credential]
    public PSCredential? WhadminCredential { get; set; }

    protected override bool SuperuserAllowed => true;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        try
        {
            if (WhadminCredential is not null && !warehouse.IsSuperuser)
                throw new WarehouseException("WhadminCredentialNotNeeded", WhErrorKind.InvalidArgument,
                    $"-WhadminCredential is for a superuser session; you are connected as '{warehouse.User}', which does the _wh part itself. Leave the parameter out.",
                    warehouse.Target);
            if (WhadminCredential is not null && WhadminCredential.UserName != "whadmin")
                throw new WarehouseException("WhadminCredentialInvalid", WhErrorKind.InvalidArgument,
                    $"-WhadminCredential must be the login of whadmin, not '{WhadminCredential.UserName}': the _wh part runs as whadmin.",
                    WhadminCredential.UserName);
            var password = WhadminCredential?.GetNetworkCredential().Password;
            var installer = new WarehouseInstaller(warehouse, Logger,
                password is null ? null : InstallLogins.Whadmin(warehouse, password));
            var plan = Run(installer.PlanAsync);
            foreach (var note in plan.Notes) WriteWarning(note);
            if (plan.UpToDate)
            {
                WriteVerbose($"The warehouse in {plan.Target} is already at {plan.TargetVersion}: nothing to do.");
                WriteObject(Run(cancel => installer.InstallAsync(plan, cancel)));
                return;
            }
            if (!ShouldProcess(plan.Target, string.Join("; ", plan.Steps))) return;
            WriteObject(Run(cancel => installer.InstallAsync(plan, cancel)));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
