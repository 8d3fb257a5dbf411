-- sql/wh/23-upgrades.sql: Upgrades that need the routines above (declared with '-- upgrade from < X:' lines, listed by Install-WhWarehouse -WhatIf).
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- upgrade from < 2.0.0: move the refresh jobs that Register-WhCronJob made (SELECT _wh.update_mv_by_template(..., CURRENT_DATE)) to CALL _wh.refresh_recent_by_template(..., 7), keeping name, schedule and paused state
-- Only whadmin's own jobs of exactly that form are moved (pg_cron lets a role alter only its own jobs); a job with
-- allow_refresh_yesterday => false, or any command a DBA wrote by hand, is left as it is.
DO $cron_jobs$
DECLARE
    job record;
    m text[];
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL
       OR pg_catalog.to_regprocedure('cron.alter_job(bigint,text,text,text,text,boolean)') IS NULL
       OR NOT pg_catalog.has_function_privilege('cron.alter_job(bigint,text,text,text,text,boolean)', 'EXECUTE') THEN
        RETURN;
    END IF;
    FOR job IN EXECUTE 'SELECT jobid, command FROM cron.job WHERE username = current_user ORDER BY jobid' LOOP
        m := pg_catalog.regexp_match(job.command,
            $re$^\s*SELECT _wh\.update_mv_by_template\((E?'(?:[^']|'')*'), (E?'(?:[^']|'')*'), (E?'(?:[^']|'')*'), CURRENT_DATE\)\s*;?\s*$$re$);
        CONTINUE WHEN m IS NULL;
        EXECUTE 'SELECT cron.alter_job($1, command => $2)'
            USING job.jobid, pg_catalog.format('CALL _wh.refresh_recent_by_template(%s, %s, %s, 7)', m[1], m[2], m[3]);
    END LOOP;
END
$cron_jobs$;

-- upgrade from < 2.1.0: tenant views read two tables (<template>_recent, a copy of the daily materialized views' rows, and <template>_closed) instead of one member per day, so routine work changes rows, never a view definition; vacuum_truncate off on the compacted tables
-- Idempotent: a tenant view that already reads <template>_recent is left alone (nothing re-created).
DO $fixed_members$
DECLARE
    pair record;
BEGIN
    FOR pair IN
        SELECT t.schema_name, m.template_name
        FROM _wh.tenants t CROSS JOIN _wh.mv_templates m
        WHERE _wh.does_view_exist(t.schema_name, m.template_name)
        ORDER BY 1, 2
    LOOP
        IF pg_catalog.to_regclass(format('%I.%I', pair.schema_name, _wh.closed_table_name(pair.template_name))) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I.%I SET (vacuum_truncate = off)', pair.schema_name, _wh.closed_table_name(pair.template_name));
        END IF;
        PERFORM _wh.ensure_views_include(pair.template_name, pair.schema_name, NULL);
    END LOOP;
END
$fixed_members$;

-- upgrade from < 2.2.0: whadmin's pg_cron jobs that target another server (a restore kept their old host and port) are scheduled again on this one
-- Every run: the current user's pg_cron jobs that target another server (a warehouse restored from a dump onto a new
-- server keeps its jobs' old host and port) are scheduled again on this one (_wh.retarget_cron_jobs).
DO $retarget$ BEGIN PERFORM _wh.retarget_cron_jobs(); END $retarget$;
