using System.Text.RegularExpressions;

namespace PhoodWarehouse.Core.Install;

/// <summary>
/// What a superuser install would run or fire that the scripts do not define (docs/security.md, finding 1):
/// triggers, rules and policies on <c>_wh</c> relations, routines in <c>_wh</c>, event triggers over a non-superuser's
/// function, and what a default search path would find: routines, operators and conversions in public and casts, owned
/// by a role that is neither a superuser nor the installing admin. The admin's sessions pin their search path anyway
/// (<see cref="CatalogSession"/>); an extension script does not, and whadmin may create in public.
/// Read from pg_catalog only: a superuser session never reads a <c>_wh</c> relation or calls a <c>_wh</c> function.
/// </summary>
internal static class UntrustedCode
{
    /// <summary>Each object that is not the scripts', described for the error message; empty when there is none.</summary>
    public static async Task<IReadOnlyList<string>> FindAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var scripts = string.Join("\n", new[] { SqlScripts.Functions }.Concat(SqlScripts.TemplateFiles()).Select(SqlScripts.Read));
        var routines = Names(scripts, @"create\s+or\s+replace\s+(?:function|procedure)\s+_wh\.([a-z0-9_]+)");
        var triggers = Regex.Matches(scripts,
                @"create\s+or\s+replace\s+trigger\s+([a-z0-9_]+)\s.*?\son\s+_wh\.([a-z0-9_]+)\s.*?execute\s+function\s+_wh\.([a-z0-9_]+)",
                RegexOptions.IgnoreCase | RegexOptions.Singleline)
            .Select(m => $"{m.Groups[1].Value.ToLowerInvariant()} on {m.Groups[2].Value.ToLowerInvariant()} -> {m.Groups[3].Value.ToLowerInvariant()}")
            .ToArray();

        await using var command = new NpgsqlCommand(
            """
            WITH me AS (SELECT r.oid, r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),
            -- roles whose code an admin session may run: superusers, the installing admin, and roles it is a member of
            -- (pg_has_role is true for every role when asked for a superuser: not used for one)
            trusted AS (SELECT r.oid FROM pg_catalog.pg_roles r, me
                        WHERE r.rolsuper OR r.oid = me.oid OR (NOT me.rolsuper AND pg_catalog.pg_has_role(me.oid, r.oid, 'MEMBER')))
            SELECT what FROM (
                SELECT 1 AS k, format('trigger %I on _wh.%I (function %s)', t.tgname, c.relname, t.tgfoid::regprocedure) AS what
                FROM pg_catalog.pg_trigger t
                JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '_wh') AND NOT t.tgisinternal
                  AND NOT (pn.nspname = '_wh' AND format('%s on %s -> %s', t.tgname, c.relname, p.proname) = ANY (@triggers))
                UNION ALL
                SELECT 2, format('rule %I on _wh.%I', r.rulename, c.relname)
                FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
                WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '_wh')
                  AND NOT (c.relkind IN ('v', 'm') AND r.rulename = '_RETURN')
                UNION ALL
                SELECT 3, format('policy %I on _wh.%I', pol.polname, c.relname)
                FROM pg_catalog.pg_policy pol JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
                WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '_wh')
                UNION ALL
                SELECT 4, format('routine %s', p.oid::regprocedure)
                FROM pg_catalog.pg_proc p
                WHERE p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '_wh')
                  AND NOT p.proname = ANY (@routines)
                UNION ALL
                -- event triggers fire in every session: trusted only over a superuser's function that resolves no name in a
                -- schema others write (its search_path pinned to pg_catalog: a managed server's provider's, say)
                SELECT 5, format('event trigger %I (function %s owned by %I)', e.evtname, e.evtfoid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
                FROM pg_catalog.pg_event_trigger e JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
                WHERE e.evtenabled <> 'D'
                  AND NOT ((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = p.proowner)
                           AND coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false))
                UNION ALL
                -- what a default search path ("$user", public) finds: routines, operators and conversions in public, and casts,
                -- of a role that is neither a superuser nor the installing role (nor one it is a member of)
                SELECT 6, format('routine %s owned by %I', p.oid::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
                FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles o ON o.oid = p.proowner
                WHERE p.pronamespace = 'public'::regnamespace AND o.oid NOT IN (SELECT oid FROM trusted)
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
                UNION ALL
                SELECT 7, format('operator %s owned by %I', o.oid::regoperator, pg_catalog.pg_get_userbyid(o.oprowner))
                FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_roles r ON r.oid = o.oprowner
                WHERE o.oprnamespace = 'public'::regnamespace AND r.oid NOT IN (SELECT oid FROM trusted)
                UNION ALL
                SELECT 8, format('conversion %I owned by %I', c.conname, pg_catalog.pg_get_userbyid(c.conowner))
                FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_roles r ON r.oid = c.conowner
                WHERE c.connamespace = 'public'::regnamespace AND r.oid NOT IN (SELECT oid FROM trusted)
                UNION ALL
                SELECT 9, format('cast (%s AS %s) with function %s owned by %I', c.castsource::regtype, c.casttarget::regtype,
                                 c.castfunc::regprocedure, pg_catalog.pg_get_userbyid(p.proowner))
                FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
                WHERE r.oid NOT IN (SELECT oid FROM trusted)
                UNION ALL
                -- a schema cron that is not pg_cron's: the admin grants on it and pg_cron's CREATE EXTENSION would meet it
                SELECT 10, format('schema cron owned by %I, not by the pg_cron extension', pg_catalog.pg_get_userbyid(n.nspowner))
                FROM pg_catalog.pg_namespace n
                WHERE n.nspname = 'cron' AND n.nspowner NOT IN (SELECT oid FROM trusted)
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                                  WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e' AND e.extname = 'pg_cron')
            ) found ORDER BY k, what
            """, db);
        command.Parameters.AddWithValue("triggers", triggers);
        command.Parameters.AddWithValue("routines", routines);
        return await Db.ReadAllAsync(command, r => r.GetString(0), cancel);
    }

    public static WarehouseException Refusal(string target, IReadOnlyList<string> found) =>
        new("UntrustedCode", WhErrorKind.PermissionDenied,
            $"Install-WhWarehouse refuses to run as a superuser in {target}: it holds code the install scripts do not define, " +
            $"which a superuser session could fire or run with superuser rights: {string.Join("; ", found)}. " +
            "Find out who created it and why (whadmin owns _wh, so whoever holds whadmin's password can), drop it as its owner " +
            "(or disable the event trigger), and run Install-WhWarehouse again. Nothing was changed.",
            target);

    private static string[] Names(string text, string pattern) =>
        Regex.Matches(text, pattern, RegexOptions.IgnoreCase).Select(m => m.Groups[1].Value.ToLowerInvariant()).Distinct().ToArray();
}
