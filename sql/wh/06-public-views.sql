-- sql/wh/06-public-views.sql: Views BI reads: their atomic rebuild (apply_view), and the public view of a template over every tenant's.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- True when view rel already has the definition select_sql: the candidate is created as a
-- temporary view and both are deparsed (pg_get_viewdef), so no lock stronger than readers'
-- AccessShareLock is taken on anything BI reads.
CREATE OR REPLACE FUNCTION _wh.view_definition_is(rel regclass, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The probe's DROP … IF EXISTS says "schema pg_temp does not exist, skipping" to a psql user: internal, not news.
SET client_min_messages = warning
AS $$
DECLARE
    probe text := '_wh_probe_' || pg_catalog.pg_backend_pid();
    same boolean;
BEGIN
    EXECUTE format('DROP VIEW IF EXISTS pg_temp.%I', probe);
    EXECUTE format('CREATE TEMPORARY VIEW %I AS %s', probe, select_sql);
    same := pg_catalog.pg_get_viewdef(format('pg_temp.%I', probe)::regclass) = pg_catalog.pg_get_viewdef(rel);
    EXECUTE format('DROP VIEW pg_temp.%I', probe);
    RETURN same;
END
$$;

-- Creates or replaces view target_schema.view_name AS select_sql, granting SELECT to
-- phood_ro. Nothing is re-created when the definition is unchanged (no lock on the view: BI
-- never waits for it). A change takes the view's AccessExclusiveLock in short attempts
-- (200 ms of lock_timeout each, with growing pauses between them), so that BI queries queue
-- behind it for at most one attempt, until the setting lock_timeout (_wh.setting) has
-- passed; then it fails with lock_not_available and the caller's transaction changes nothing.
-- When the column list changed (CREATE OR REPLACE refuses), the view is dropped with its
-- dependents and created again, the public view of the same name locked first (readers lock
-- the public view before the tenant view: the same order cannot deadlock); returns true in
-- that case (the caller must rebuild what depended on it, i.e. the public view).
CREATE OR REPLACE FUNCTION _wh.apply_view(target_schema text, view_name text, select_sql text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout FROM CURRENT
AS $$
DECLARE
    replaced boolean := false;
    rel regclass := pg_catalog.to_regclass(format('%I.%I', target_schema, view_name));
    budget_ms bigint := _wh.timeout_ms('lock_timeout');
    started timestamptz := clock_timestamp();
    attempts integer := 0;
    left_ms bigint;
BEGIN
    IF rel IS NULL OR NOT _wh.view_definition_is(rel, select_sql) THEN
        LOOP
            attempts := attempts + 1;
            left_ms := budget_ms - (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint;
            PERFORM set_config('lock_timeout', greatest(1, least(200, left_ms))::text || 'ms', true);
            BEGIN
                BEGIN
                    EXECUTE format('CREATE OR REPLACE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                EXCEPTION WHEN invalid_table_definition THEN
                    RAISE NOTICE 'columns of %.% changed: dropping it (and dependent views) and creating it again', target_schema, view_name;
                    IF target_schema <> 'public' AND pg_catalog.to_regclass(format('public.%I', view_name)) IS NOT NULL THEN
                        EXECUTE format('LOCK TABLE public.%I IN ACCESS EXCLUSIVE MODE', view_name);
                    END IF;
                    EXECUTE format('DROP VIEW %I.%I CASCADE', target_schema, view_name);
                    EXECUTE format('CREATE VIEW %I.%I AS %s', target_schema, view_name, select_sql);
                    replaced := true;
                END;
                EXIT;
            EXCEPTION WHEN lock_not_available THEN
                IF (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint >= budget_ms THEN
                    RAISE EXCEPTION 'view %.% is in use: % attempts over lock_timeout (%) found queries on it all along; nothing was changed',
                                    target_schema, view_name, attempts, budget_ms || 'ms'
                        USING ERRCODE = 'lock_not_available',
                              HINT = 'Only adding, renaming or removing a tenant or template changes a view''s definition. Run it again when the long queries have finished (pg_stat_activity shows them), or raise _wh.warehouse_info lock_timeout.';
                END IF;
                -- Step out of the lock queue so that the readers behind us go on, then try again.
                PERFORM pg_sleep(least(1.0, 0.05 * power(2, attempts)) * (0.5 + random() / 2));
            END;
        END LOOP;
    END IF;
    IF NOT pg_catalog.has_table_privilege('phood_ro', format('%I.%I', target_schema, view_name), 'SELECT') THEN
        EXECUTE format('GRANT SELECT ON %I.%I TO phood_ro', target_schema, view_name);
    END IF;
    RETURN replaced;
END
$$;

-- Builds view public.<template> = UNION ALL of <schema>.<template> for every registered tenant
-- (_wh.tenants) whose tenant view exists, ordered by schema; a typed empty view when there is
-- none. Never refers to a tenant that is gone; unchanged, nothing is re-created (apply_view). CREATE OR REPLACE keeps grants; SELECT is
-- granted to phood_ro and whadmin. Returns 'public.<template>'.
CREATE OR REPLACE FUNCTION _wh.update_public_view_by_template(template_name text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    select_list text;
    empty_list  text;
    parts       text[];
BEGIN
    PERFORM _wh.assert_template_exists(template_name);
    PERFORM _wh.lock_public_view(template_name);

    SELECT string_agg(format('v.%I', c.column_name), ', ' ORDER BY c.ordinal),
           string_agg(format('NULL::%s AS %I', c.data_type, c.column_name), ', ' ORDER BY c.ordinal)
    INTO select_list, empty_list
    FROM _wh.template_columns(template_name) c;

    SELECT array_agg(format('SELECT %s FROM %I.%I v', select_list, t.schema_name, template_name) ORDER BY t.schema_name)
    INTO parts
    FROM _wh.tenants t
    WHERE _wh.does_view_exist(t.schema_name, template_name);

    PERFORM _wh.apply_view('public', template_name,
        CASE WHEN parts IS NULL THEN format('SELECT %s WHERE false', empty_list)
             ELSE array_to_string(parts, E'\nUNION ALL\n') END);
    IF NOT (pg_catalog.has_table_privilege('phood_ro', format('public.%I', template_name), 'SELECT')
            AND pg_catalog.has_table_privilege('whadmin', format('public.%I', template_name), 'SELECT')) THEN
        EXECUTE format('GRANT SELECT ON public.%I TO phood_ro, whadmin', template_name);
    END IF;
    RETURN format('public.%I', template_name);
END
$$;

-- Rebuilds public views: without schema_hint, every existing one; with it, those of the
-- templates that schema_hint has a tenant view of or that the public view still refers to.
CREATE OR REPLACE FUNCTION _wh.rebuild_public_views(schema_hint text DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tname text;
    rebuilt text[] := '{}'::text[];
BEGIN
    FOR tname IN SELECT t.template_name FROM _wh.mv_templates t ORDER BY 1 LOOP
        IF (schema_hint IS NULL AND _wh.does_view_exist('public', tname))
           OR (schema_hint IS NOT NULL AND (_wh.does_view_exist(schema_hint, tname)
                                            OR _wh.view_references('public', tname, schema_hint, tname))) THEN
            rebuilt := rebuilt || _wh.update_public_view_by_template(tname);
        END IF;
    END LOOP;
    RETURN rebuilt;
END
$$;
