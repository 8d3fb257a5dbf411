using System.Management.Automation;
using PhoodWarehouse.Core;
using PhoodWarehouse.Core.Warehouse;
using PhoodWarehouse.PowerShell.Infrastructure;

namespace PhoodWarehouse.PowerShell.Commands.Warehouse;

/// <summary>The connected warehouse at a glance: versions, extensions, counts, size, cron history.</summary>
[Cmdlet(VerbsCommon.Get, "WhWarehouse")]
[OutputType(typeof(WhWarehouse))]
public sealed class GetWhWarehouseCommand : WhCmdlet
{
    /// <summary>Shows versions (and warns) whatever schema the warehouse has.</summary>
    protected override bool RequiresCurrentSchema => false;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        try
        {
            var info = Run(new WarehouseInspector(warehouse).InspectAsync);
            if (info.SchemaWarning is not null) WriteWarning(info.SchemaWarning);
            if (info.LockWarning is not null) WriteWarning(info.LockWarning);
            WriteObject(info);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
