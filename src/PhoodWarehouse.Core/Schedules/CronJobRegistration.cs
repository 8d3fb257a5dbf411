namespace PhoodWarehouse.Core.Schedules;

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
