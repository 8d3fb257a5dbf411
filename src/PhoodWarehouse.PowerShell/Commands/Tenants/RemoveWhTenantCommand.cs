namespace PhoodWarehouse.PowerShell.Commands.Tenants;

/// <summary>
/// Removes a tenant and all its data, in a safe order and one transaction: out of the public views first
/// (BI keeps working), then its cron jobs, its schema, its connection. -WhatIf lists every step.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "WhTenant", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveWhTenantCommand : WhCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        var warehouse = Warehouse;
        var remover = new TenantRemover(warehouse, Logger);
        foreach (var name in Name)
        {
            try
            {
                TenantName.Validate(name);
                var steps = Run(cancel => remover.PlanAsync(name, cancel));
                if (steps.Count == 0) throw TenantStore.NotFound(name);
                if (WhatIfRequested())
                {
                    foreach (var step in steps) ShouldProcess(name, step);
                    continue;
                }
                if (!ShouldProcess(name, "Remove tenant and ALL its data: " + string.Join("; ", steps))) continue;
                Run(cancel => remover.RemoveAsync(name, cancel));
                WriteVerbose($"Removed tenant {name}.");
            }
            catch (WarehouseException error)
            {
                WriteWhError(error);
            }
        }
    }

    private bool WhatIfRequested() =>
        MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && value is SwitchParameter { IsPresent: true }
        || SessionState.PSVariable.GetValue("WhatIfPreference") is true or SwitchParameter { IsPresent: true };
}
