-- sql/wh/18-retention.sql: Retention: dropping a range of days.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Drops the daily views of one tenant's template whose date lies in [start_date, end_date]
-- (NULL = unbounded on that side), and deletes their rows from the tables the tenant view reads
-- (<template>_recent, <template>_closed) IN THE SAME TRANSACTION: readers see the old set of
-- days or the new one, and no view definition changes (the tenant and public views are built
-- only when missing). Locks in the usual order (each daily view, then the tenant view). One run_log row 'dropped' per
-- view. A cron job can call it for retention:
--   SELECT _wh.drop_mv_range_by_template('foodlogstats', 'tenant_a', NULL, _wh.tenant_today('tenant_a') - 181);
-- Returns {"template","schema","dropped":[{"view","date"}],"count"}.
CREATE OR REPLACE FUNCTION _wh.drop_mv_range_by_template(template_name text, target_schema text, start_date date, end_date date)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conn     text;
    victim   record;
    victims  text[] := '{}'::text[];
    kinds    "char"[] := '{}'::"char"[];
    dates    date[] := '{}'::date[];
    dropped  jsonb := '[]'::jsonb;
    need_public boolean;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF start_date IS NOT NULL AND end_date IS NOT NULL AND start_date > end_date THEN
        RAISE EXCEPTION 'reversed date range: % is after %', start_date, end_date USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t.connection_name INTO conn FROM _wh.tenants t WHERE t.schema_name = target_schema;

    FOR victim IN
        SELECT v.relation AS view_name, v.kind AS relkind, v.day
        FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = drop_mv_range_by_template.template_name
          AND v.day BETWEEN coalesce(start_date, '-infinity'::date) AND coalesce(end_date, 'infinity'::date)
        ORDER BY v.relation
    LOOP
        PERFORM _wh.lock_daily_view(target_schema, victim.view_name);
        victims := victims || victim.view_name;
        kinds := kinds || victim.relkind;
        dates := dates || victim.day;
        dropped := dropped || jsonb_build_object('view', format('%I.%I', target_schema, victim.view_name), 'date', victim.day);
    END LOOP;
    IF cardinality(victims) = 0 THEN
        RETURN jsonb_build_object('template', template_name, 'schema', target_schema, 'dropped', dropped, 'count', 0);
    END IF;

    -- The tenant view reads its members' rows: the victims leave it with their rows, below.
    need_public := NOT _wh.does_view_exist(target_schema, template_name);
    IF need_public THEN
        PERFORM _wh.lock_tenant_view(target_schema, template_name);
        PERFORM _wh.rebuild_tenant_view(template_name, target_schema);
    END IF;

    FOR i IN 1 .. cardinality(victims) LOOP
        IF kinds[i] IN ('v', 't') THEN
            -- A compacted day: its view (none when older than day_relation_days) and its rows of the compacted table.
            IF kinds[i] = 'v' THEN
                EXECUTE format('DROP VIEW %I.%I', target_schema, victims[i]);
            END IF;
            EXECUTE format('DELETE FROM %I.%I WHERE _wh_day = $1', target_schema, _wh.closed_table_name(template_name)) USING dates[i];
        ELSE
            EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, victims[i]);
            PERFORM _wh.sync_recent_day(template_name, target_schema, victims[i], dates[i]);
        END IF;
        DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema AND s.template_name = drop_mv_range_by_template.template_name AND s.day = dates[i];
        PERFORM _wh.log_run(target_schema, conn, template_name, dates[i], 'dropped', NULL, NULL, NULL);
    END LOOP;
    IF need_public OR NOT _wh.view_references('public', template_name, target_schema, template_name) THEN
        PERFORM _wh.update_public_view_by_template(template_name);
    END IF;
    RETURN jsonb_build_object('template', template_name, 'schema', target_schema, 'dropped', dropped, 'count', cardinality(victims));
END
$$;

-- Drops one tenant's part of a template (CALL _wh.remove_template, Remove-WhTemplate): its tenant view, every daily
-- view of the template (each under its day lock, each logged 'dropped'), then the tables the tenant view read
-- (<template>_closed, <template>_recent). The public view must not read the tenant view any more (remove_template
-- drops it first). Idempotent. Returns the number of daily views dropped.
CREATE OR REPLACE FUNCTION _wh.remove_template_from_tenant(template_name text, target_schema text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    day record;
    conn text := (SELECT t.connection_name FROM _wh.tenants t WHERE t.schema_name = target_schema);
    dropped integer := 0;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    EXECUTE format('DROP VIEW IF EXISTS %I.%I', target_schema, template_name);
    FOR day IN
        SELECT v.relation, v.day FROM _wh.daily_views v
        WHERE v.schema_name = target_schema AND v.template_name = remove_template_from_tenant.template_name
        ORDER BY v.day
    LOOP
        PERFORM _wh.lock_daily_view(target_schema, day.relation);
        CASE _wh.daily_relkind(target_schema, day.relation)
            WHEN 'v' THEN EXECUTE format('DROP VIEW %I.%I', target_schema, day.relation);  -- a compacted closed day
            WHEN 'm' THEN EXECUTE format('DROP MATERIALIZED VIEW %I.%I', target_schema, day.relation);
            WHEN 't' THEN  -- no relation: its rows go with the table, below; the catalog lists it from its day state
                DELETE FROM _wh.day_state s WHERE s.schema_name = target_schema
                   AND s.template_name = remove_template_from_tenant.template_name AND s.day = day.day;
            ELSE CONTINUE;  -- dropped meanwhile
        END CASE;
        PERFORM _wh.log_run(target_schema, conn, template_name, day.day, 'dropped', NULL, NULL, NULL);
        dropped := dropped + 1;
    END LOOP;
    EXECUTE format('DROP TABLE IF EXISTS %I.%I, %I.%I', target_schema, _wh.closed_table_name(template_name),
                   target_schema, _wh.recent_table_name(template_name));
    RETURN dropped;
END
$$;

-- Removes a template (Remove-WhTemplate's; psql: CALL _wh.remove_template('inventory_stats', force => true)): refuses
-- while daily views of it exist unless force; drops the public view first (BI loses the template at once, and it reads
-- the tenant views), then each tenant's part in a transaction of its own (remove_template_from_tenant), then the
-- template's row and day states, once no daily view of it is left (a day a cron job made meanwhile keeps the
-- template: the error says so). Interrupted, it is finished by running it again. CALL it at top level.
CREATE OR REPLACE PROCEDURE _wh.remove_template(template_name text, force boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
DECLARE
    in_use bigint;
    schema_name text;
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    SELECT pg_catalog.count(*) INTO in_use FROM _wh.daily_views v WHERE v.template_name = remove_template.template_name;
    IF in_use > 0 AND NOT force THEN
        RAISE EXCEPTION 'template % still has % daily view(s)', template_name, in_use
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = format('Remove them first (Get-WhMv -Template %s | Remove-WhMv), or remove them with the template: CALL _wh.remove_template(%L, force => true);', template_name, template_name);
    END IF;
    EXECUTE pg_catalog.format('DROP VIEW IF EXISTS public.%I', template_name);
    COMMIT;
    FOR schema_name IN
        SELECT t.schema_name FROM _wh.tenants t
        WHERE pg_catalog.to_regclass(pg_catalog.format('%I.%I', t.schema_name, remove_template.template_name)) IS NOT NULL
           OR EXISTS (SELECT 1 FROM _wh.daily_views v WHERE v.schema_name = t.schema_name AND v.template_name = remove_template.template_name)
        ORDER BY 1
    LOOP
        PERFORM _wh.remove_template_from_tenant(template_name, schema_name);
        COMMIT;
    END LOOP;
    PERFORM _wh.forget_template(template_name);
    COMMIT;
END
$$;

-- The last step of remove_template: deletes the template's row and its day states, serialised with a template update
-- (FOR UPDATE); refuses when a daily view of it exists (one a cron job made during the removal).
CREATE OR REPLACE FUNCTION _wh.forget_template(template_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    left_over bigint;
BEGIN
    PERFORM 1 FROM _wh.mv_templates m WHERE m.template_name = forget_template.template_name FOR UPDATE;
    SELECT count(*) INTO left_over FROM _wh.daily_views v WHERE v.template_name = forget_template.template_name;
    IF left_over > 0 THEN
        RAISE EXCEPTION '% daily view(s) of template % appeared while removing it', left_over, template_name
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'A cron job loads it: unschedule the job (Unregister-WhCronJob), then remove the template again.';
    END IF;
    DELETE FROM _wh.day_state s WHERE s.template_name = forget_template.template_name;
    DELETE FROM _wh.mv_templates m WHERE m.template_name = forget_template.template_name;
END
$$;
