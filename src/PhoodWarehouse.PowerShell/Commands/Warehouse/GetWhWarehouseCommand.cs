using PhoodWarehouse.Core.Warehouse;

namespace PhoodWarehouse.PowerShell.Commands.Warehouse;

/// <summary>The connected warehouse at a glance: versions, extensions, counts, size, cron history.</summary>
[Cmdlet(VerbsCommon.Get, "WhWarehouse")]
[OutputType(typeof(WhWarehouse))]
public sealed class GetWhWarehouseCommand : WhCmdlet
{
    /// <summary>Shows versions (and warns) whatever schema the warehouse has.</summary>
    protected override bool RequiresCurrentSchema => false;
    /// <summary>A superuser sees what pg_catalog shows; the counts are whadmin's data.</summary>
    protected override bool SuperuserAllowed => true;

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        try
        {
            var info = Run(new WarehouseInspector(warehouse).InspectAsync);
            if (info.SchemaWarning is not null) WriteWarning(info.SchemaWarning);
            if (info.LockWarning is not null) WriteWarning(info.LockWarning);
            if (warehouse.IsSuperuser)
                WriteWarning("Connected as a superuser: only pg_catalog was read, so the tenant, template and daily view counts (0) and the pg_cron history are not shown. Connect as whadmin to see them (docs/security.md).");
            WriteObject(info);
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
    }
}
