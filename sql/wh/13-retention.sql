-- sql/wh/13-retention.sql: Retention: dropping a range of days.
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
        IF kinds[i] = 'v' THEN
            -- A compacted day: its view and its rows of the compacted table.
            EXECUTE format('DROP VIEW %I.%I', target_schema, victims[i]);
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
