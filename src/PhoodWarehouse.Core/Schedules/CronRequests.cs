namespace PhoodWarehouse.Core.Schedules;

/// <summary>What Register-WhCronJob asks for.</summary>
public sealed record CronJobRequest
{
    /// <summary>The tenant's schema.</summary>
    public required string Tenant { get; init; }
    public required string Template { get; init; }
    public required string Schedule { get; init; }
    /// <summary>The job name; <c>wh_&lt;tenant&gt;_&lt;template&gt;</c> when null.</summary>
    public string? Name { get; init; }
    /// <summary>False passes <c>allow_refresh_yesterday =&gt; false</c>: after midnight the job leaves yesterday's view alone.</summary>
    public bool RefreshYesterday { get; init; } = true;
    /// <summary>Closed days before yesterday the job checks against the source once a day (re-loading those that differ); 0: no check.</summary>
    public int LookbackDays { get; init; } = 7;
}

/// <summary>A checked registration, ready to run: what -WhatIf describes and what RegisterAsync does.</summary>
public sealed record CronJobRegistration(
    string Name, string Tenant, string Template, string ConnectionName, CronExpression Schedule, string Command,
    long? ExistingJobId, string? ExistingSchedule, string? ExistingCommand)
{
    public bool IsUpdate => ExistingJobId is not null;
    public bool ChangesNothing => IsUpdate && ExistingSchedule == Schedule.Text && ExistingCommand == Command;

    public string Describe() => IsUpdate
        ? $"update cron job '{Name}' (job {ExistingJobId}): schedule '{ExistingSchedule}' → '{Schedule.Text}', command: {Command}"
        : $"schedule cron job '{Name}' at '{Schedule.Text}' (pg_cron time): {Command}";
}

/// <summary>Which jobs Get-WhCronJob returns.</summary>
public sealed record CronJobQuery
{
    public IReadOnlyList<NamePattern> Names { get; init; } = [];
    public string? Tenant { get; init; }
    /// <summary>Every pg_cron job the user can see, not only the warehouse's refresh jobs.</summary>
    public bool All { get; init; }
}

/// <summary>Which runs Get-WhCronJobRun returns (newest first).</summary>
public sealed record CronRunQuery
{
    public IReadOnlyList<NamePattern> Names { get; init; } = [];
    public DateTime? Since { get; init; }
    public bool FailedOnly { get; init; }
    public int? Last { get; init; }
    public bool All { get; init; }
}
