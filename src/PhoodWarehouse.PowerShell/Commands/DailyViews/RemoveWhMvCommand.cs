namespace PhoodWarehouse.PowerShell.Commands.DailyViews;

/// <summary>
/// Retention (the guide's "Clean Up Old Materialized Views"): drops one day (-Date) or every day before a date
/// (-Before) of a tenant's template. The tenant view (and, if needed, the public view) is rebuilt in the same
/// transaction as the drops; each drop is logged 'dropped'. -WhatIf lists the views.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "WhMv", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Date")]
[OutputType(typeof(WhMv))]
public sealed class RemoveWhMvCommand : WhCmdlet
{
    /// <summary>The tenant; Get-WhTenant's objects bind by their Name, Get-WhMv's by their Tenant.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ArgumentCompleter(typeof(TenantNameCompleter))]
    public string Tenant { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TemplateNameCompleter))]
    public string Template { get; set; } = "";

    /// <summary>The day to drop. Not mandatory so that a script without it gets an error, not a prompt (DayRequired).</summary>
    [Parameter(ParameterSetName = "Date", ValueFromPipelineByPropertyName = true)]
    public DateTime Date { get; set; }

    /// <summary>Drop every day before this one.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Before")]
    public DateTime Before { get; set; }

    /// <summary>Write the dropped views to the pipeline.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Date" && !MyInvocation.BoundParameters.ContainsKey(nameof(Date)))
        {
            WriteError(new ErrorRecord(new ArgumentException("-Date is required"), "DayRequired", ErrorCategory.InvalidArgument, Tenant)
            {
                ErrorDetails = new ErrorDetails($"Which day of {Tenant}.{Template}? Give -Date <day> (one day) or -Before <day> (every day before it); " +
                                                "Get-WhMv lists the days, and its objects pipe in with their Date. Nothing was removed."),
            });
            return;
        }
        var warehouse = Warehouse;
        var request = new RetentionRequest
        {
            Tenant = Tenant,
            Template = Template,
            Date = ParameterSetName == "Date" ? DateOnly.FromDateTime(Date) : null,
            Before = ParameterSetName == "Before" ? DateOnly.FromDateTime(Before) : null,
        };
        var retention = new DailyViewRetention(warehouse, Logger);
        try
        {
            var views = Run(cancel => retention.PlanAsync(request, cancel));
            if (views.Count == 0)
            {
                WriteVerbose($"No daily view of {Tenant}.{Template} {(request.Date is { } d ? $"for {d:yyyy-MM-dd}" : $"before {request.Before:yyyy-MM-dd}")}.");
                return;
            }
            if (WhatIfRequested())
            {
                foreach (var view in views) ShouldProcess(view.View, "Drop daily view (its rows leave the tenant view in the same transaction)");
                return;
            }
            var what = views.Count == 1 ? "Drop daily view" : $"Drop {views.Count} daily views ({views[0].Date:yyyy-MM-dd} … {views[^1].Date:yyyy-MM-dd})";
            if (!ShouldProcess(views.Count == 1 ? views[0].View : $"{Tenant}.{Template}", what + "; their rows leave the tenant view in the same transaction")) return;
            var dropped = Run(cancel => retention.DropAsync(request, cancel));
            WriteVerbose($"Dropped {dropped.Count} daily views of {Tenant}.{Template}.");
            if (PassThru) WriteObject(dropped, enumerateCollection: true);
        }
        catch (WarehouseException error)
        {
            WriteWhError(error);
        }
    }

    private bool WhatIfRequested() =>
        MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && value is SwitchParameter { IsPresent: true }
        || SessionState.PSVariable.GetValue("WhatIfPreference") is true or SwitchParameter { IsPresent: true };
}
