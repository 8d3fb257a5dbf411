namespace PhoodWarehouse.Core.Warehouse;

/// <summary>
/// How many lock slots the largest public view takes to plan a query, against the shared lock table
/// (max_locks_per_transaction × (max_connections + max_prepared_transactions)). Planning a query on a view locks
/// the view, every relation reached through its rules and every index of those (architecture fact 3): past the
/// table's size, BI queries fail with "out of shared memory, increase max_locks_per_transaction".
/// </summary>
public sealed record LockHeadroom(string? View, int Relations, int Indexes, int MaxLocksPerTransaction, int Slots)
{
    /// <summary>Share of the lock table at which Get-WhWarehouse and a backfill warn: each concurrent BI query takes as many again.</summary>
    public const double WarningPercent = 25;

    public int Locks => Relations + Indexes;
    public long Capacity => (long)MaxLocksPerTransaction * Slots;
    public double PercentFor(int locks) => Capacity == 0 ? 0 : 100.0 * locks / Capacity;
    public double Percent => PercentFor(Locks);

    /// <summary>The max_locks_per_transaction that keeps <paramref name="locks"/> under <paramref name="percent"/> of the table.</summary>
    public int SettingFor(int locks, double percent = WarningPercent) => (int)Math.Ceiling(locks * 100.0 / percent / Math.Max(1, Slots));

    /// <summary>A warning for <paramref name="locks"/> lock slots (now, or after a load), or null when there is room.</summary>
    public string? WarningFor(int locks, string when) =>
        PercentFor(locks) < WarningPercent ? null :
        $"{when}, a query on {View ?? "the public view"} locks {locks} relations and indexes, {PercentFor(locks):0}% of the lock table ({Capacity} = max_locks_per_transaction {MaxLocksPerTransaction} × {Slots} connection slots); " +
        $"a few concurrent BI queries will fail with 'out of shared memory'. Raise max_locks_per_transaction to at least {SettingFor(locks)} (restart), or remove old days (Remove-WhMv -Before).";

    public static async Task<LockHeadroom> ReadAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            """
            WITH RECURSIVE reach(root, rel) AS (
                SELECT c.oid, c.oid FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
                UNION
                SELECT r.root, d.refobjid
                FROM reach r
                JOIN pg_rewrite w ON w.ev_class = r.rel
                JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                                AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.rel
            ), sized AS (
                SELECT format('public.%I', (SELECT c.relname FROM pg_class c WHERE c.oid = r.root)) AS view, count(*)::int AS relations,
                       (SELECT count(*) FROM pg_index i WHERE i.indrelid IN (SELECT r2.rel FROM reach r2 WHERE r2.root = r.root))::int AS indexes
                FROM reach r GROUP BY r.root
            ), largest AS (
                -- The view that locks the most (ORDER BY 2 + 3 sorted by the constant 5: the first name won).
                SELECT * FROM sized ORDER BY relations + indexes DESC, view LIMIT 1
            )
            SELECT (SELECT view FROM largest), coalesce((SELECT relations FROM largest), 0), coalesce((SELECT indexes FROM largest), 0),
                   current_setting('max_locks_per_transaction')::int,
                   current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int
            """, db);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        await reader.ReadAsync(cancel);
        return new LockHeadroom(reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2),
            reader.GetInt32(3), reader.GetInt32(4));
    }
}
