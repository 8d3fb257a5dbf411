using System.Management.Automation;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.Install;
using PhoodWarehouse.PowerShell.Infrastructure;

namespace PhoodWarehouse.PowerShell.Commands.Warehouse;

/// <summary>
/// Installs or upgrades the warehouse (_wh schema, functions, templates) in the connected database,
/// all in one transaction. A second run finds nothing to do and says so.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "WhWarehouse", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(WhInstallResult))]
public sealed class InstallWhWarehouseCommand : WhCmdlet
{
    /// <summary>Installing and upgrading is what an outdated schema needs.</summary>
    protected override bool RequiresCurrentSchema => false;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var installer = new WarehouseInstaller(warehouse, Logger);
        try
        {
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
