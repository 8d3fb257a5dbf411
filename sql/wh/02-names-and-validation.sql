-- sql/wh/02-names-and-validation.sql: Names and validation: the one spelling of a daily name, the clock (_wh.now), tenants' days, input checks.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Foreign server name of a connection: 'wh_' || tenant_name (at most 63 bytes).
CREATE OR REPLACE FUNCTION _wh.server_name(tenant_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'wh_' || tenant_name $$;

-- Daily view name: base_view_name || '_YYYY_MM_DD'. Errors when the result exceeds 63 bytes
-- (PostgreSQL would silently truncate it).
CREATE OR REPLACE FUNCTION _wh.create_mv_name(base_view_name text, target_date date)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    IF base_view_name IS NULL OR base_view_name = '' OR target_date IS NULL THEN
        RAISE EXCEPTION 'create_mv_name: base_view_name and target_date are required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    result := base_view_name || '_' || to_char(target_date, 'YYYY_MM_DD');
    IF octet_length(result) > 63 THEN
        RAISE EXCEPTION 'view name % is longer than 63 bytes', result
            USING ERRCODE = 'name_too_long';
    END IF;
    RETURN result;
END
$$;

-- The day of a daily name (<template>_YYYY_MM_DD), NULL for any other name: the one spelling of the suffix in SQL
-- (its template is the name without its last 11 characters). No SET clause and only immutable parts (make_date, not
-- the stable to_date), so that it is inlined into _wh.daily_views (see _wh.day_end below); a call per relation
-- costs 5 us, 0.2 s at 36,500 daily names, and a regular expression 2 us (measured): LIKE places the underscores,
-- translate proves the other eight characters digits.
CREATE OR REPLACE FUNCTION _wh.daily_name_day(relation_name text)
RETURNS date
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN relation_name LIKE '%\_____\___\___'
                      AND pg_catalog.translate(pg_catalog.right(relation_name, 10), '0123456789', '') = '__'
                THEN pg_catalog.make_date(pg_catalog.substr(pg_catalog.right(relation_name, 10), 1, 4)::integer,
                                          pg_catalog.substr(pg_catalog.right(relation_name, 10), 6, 2)::integer,
                                          pg_catalog.substr(pg_catalog.right(relation_name, 10), 9, 2)::integer) END
$$;

-- The template of a daily name (<template>_YYYY_MM_DD): the name without its suffix, its last 11 characters (the one
-- spelling of that in SQL; a name is a daily name when _wh.daily_name_day gives it a day). No SET clause and immutable,
-- like _wh.daily_name_day, so that it is inlined into _wh.daily_relations.
CREATE OR REPLACE FUNCTION _wh.daily_name_template(relation_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_catalog.left(relation_name, -11) $$;

-- The daily name of a template's day (<template>_YYYY_MM_DD), as create_mv_name spells it but without its checks: for
-- days already held (the catalog's days without a relation). No SET clause, so that it is inlined: create_mv_name is
-- PL/pgSQL, and a call per day cost 0.15 s of Get-WhMv at 100 tenants x 5 years.
CREATE OR REPLACE FUNCTION _wh.daily_name(template_name text, day date)
RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT template_name OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) pg_catalog.to_char(day, 'YYYY_MM_DD') $$;

-- Name of the compacted table of a template: <template>_closed (at most 59 bytes).
CREATE OR REPLACE FUNCTION _wh.closed_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_closed' $$;

-- Name of the table holding a copy of the rows of a tenant's daily materialized views of a
-- template: <template>_recent (at most 59 bytes). The tenant view reads it, not the daily views,
-- so that a new, refreshed, re-created or dropped day changes rows, never the view's definition.
CREATE OR REPLACE FUNCTION _wh.recent_table_name(template_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT template_name || '_recent' $$;

-- The kind of a daily name: 'm' (materialized view), 'v' (day view over the compacted table), 't' (a closed day older
-- than day_relation_days: its rows in <template>_closed, no relation of its own; _wh.day_state.table_only) or NULL.
CREATE OR REPLACE FUNCTION _wh.daily_relkind(target_schema text, view_name text)
RETURNS "char"
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT c.relkind
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = target_schema AND c.relname = view_name AND c.relkind IN ('m', 'v')),
        (SELECT 't'::"char" FROM _wh.day_state s
         WHERE s.schema_name = target_schema AND s.template_name = _wh.daily_name_template(view_name)
           AND s.day = _wh.daily_name_day(view_name) AND s.table_only))
$$;

-- True when the daily view target_schema.view_name exists: a materialized view, or (a closed day
-- compacted into <template>_closed, see wh/14-compaction.sql) a plain view named <name>_YYYY_MM_DD, or
-- a closed day older than day_relation_days kept in that table without a view (_wh.daily_relkind 't').
-- Reads pg_class with the statement's snapshot, so after an advisory lock wait it sees what the other
-- session committed.
CREATE OR REPLACE FUNCTION _wh.does_mv_exist(target_schema text, view_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = target_schema AND c.relname = view_name
          AND (c.relkind = 'm' OR (c.relkind = 'v' AND _wh.daily_name_day(c.relname) IS NOT NULL)))
        OR coalesce(_wh.daily_relkind(target_schema, view_name) = 't', false)
$$;

-- True when a (non-materialized) view target_schema.view_name exists.
CREATE OR REPLACE FUNCTION _wh.does_view_exist(target_schema text, view_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = target_schema AND c.relname = view_name AND c.relkind = 'v')
$$;

-- True when view view_schema.view_name references relation ref_schema.ref_name directly.
CREATE OR REPLACE FUNCTION _wh.view_references(view_schema text, view_name text, ref_schema text, ref_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class v
        JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
        JOIN pg_catalog.pg_rewrite r ON r.ev_class = v.oid
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE vn.nspname = view_schema AND v.relname = view_name
          AND tn.nspname = ref_schema AND t.relname = ref_name)
$$;

-- Raises unless value is a name of lower-case letters, digits and underscores that starts with a letter or an
-- underscore and has at most max_length characters: THE rule for tenant schemas, connections and templates (each
-- with its own length, so that the names built from it fit PostgreSQL's 63 bytes). kind names the input in the
-- message ('tenant schema', 'connection', 'template'); sqlstate is the error's condition name.
CREATE OR REPLACE FUNCTION _wh.assert_lower_name(kind text, value text, max_length integer, sqlstate text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF value IS NULL OR value !~ ('^[a-z_][a-z0-9_]{0,' || (max_length - 1) || '}$') THEN
        RAISE EXCEPTION 'invalid % name %', kind, coalesce(quote_literal(value), 'NULL')
            USING ERRCODE = sqlstate,
                  HINT = format('Use lower-case letters, digits and underscores, starting with a letter or underscore, at most %s characters.', max_length);
    END IF;
END
$$;

-- Raises when a NEW tenant schema, connection or template would take a name that shadows or needs quoting: an SQL
-- keyword that must be quoted (select, user, ...: every query would need "..."), the name of a role (a schema named
-- after a role is what "$user" in a search_path finds first: phood_ro's foodlogstats would read one tenant), or a name
-- of this product's or PostgreSQL's schemas. Names in use already are left alone (their objects exist).
CREATE OR REPLACE FUNCTION _wh.assert_new_name(kind text, value text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF quote_ident(value) <> value THEN
        RAISE EXCEPTION '% name % is an SQL keyword: every query would have to quote it', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name (add a prefix or suffix, e.g. ' || value || '_site).';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = value) THEN
        RAISE EXCEPTION '% name % is the name of a role: a schema of that name is what "$user" in its search_path finds first', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name.';
    END IF;
    IF value IN ('_wh', 'public', 'cron', 'information_schema') OR value LIKE 'pg\_%' THEN
        RAISE EXCEPTION '% name % is reserved', kind, quote_literal(value)
            USING ERRCODE = 'reserved_name', HINT = 'Choose another name.';
    END IF;
END
$$;

-- Raises unless target_schema is a valid, non-reserved tenant schema name.
CREATE OR REPLACE FUNCTION _wh.assert_tenant_schema(target_schema text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_lower_name('tenant schema', target_schema, 63, 'invalid_schema_name');
    IF target_schema IN ('_wh', 'public', 'cron', 'information_schema') OR target_schema LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'schema % is reserved and cannot hold tenant data', target_schema
            USING ERRCODE = 'reserved_name';
    END IF;
END
$$;

-- Raises unless tenant_name is a valid connection name (the server name must fit 63 bytes).
CREATE OR REPLACE FUNCTION _wh.assert_connection_name(tenant_name text)
RETURNS void
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.assert_lower_name('connection', tenant_name, 60, 'invalid_parameter_value') $$;

-- Raises unless template_name is a valid template name (name_YYYY_MM_DD must fit 63 bytes).
CREATE OR REPLACE FUNCTION _wh.assert_template_name(template_name text)
RETURNS void
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.assert_lower_name('template', template_name, 52, 'invalid_parameter_value') $$;

-- Raises unless template_name names an existing template.
CREATE OR REPLACE FUNCTION _wh.assert_template_exists(template_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_template_name(template_name);
    IF NOT EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = assert_template_exists.template_name) THEN
        RAISE EXCEPTION 'template % does not exist', template_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Load it with sql/template-<name>.sql; SELECT template_name FROM _wh.mv_templates lists the known ones.';
    END IF;
END
$$;

-- THE clock of the SQL layer: now(), unless the session sets phood.now (SET phood.now = '2026-12-02 00:30',
-- read as a timestamptz in the session's TimeZone) in a warehouse its installer marked for tests (ALTER DATABASE
-- ... SET phood.test_clock = 'on', which only the database's owner or a superuser can do: whadmin cannot mark a
-- production warehouse, and there SET phood.now changes nothing). Every "now", "today", "yesterday" and "has this
-- day ended" of the _wh functions goes through it, so a test can stand on either side of midnight (moving TimeZone
-- moves CURRENT_DATE, not now()). The marker is read only when phood.now is set.
CREATE OR REPLACE FUNCTION _wh.now()
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN nullif(current_setting('phood.now', true), '') IS NULL THEN now()
        WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s
                     WHERE s.setrole = 0
                       AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
                       AND 'phood.test_clock=on' = ANY (s.setconfig))
            THEN current_setting('phood.now', true)::timestamptz
        ELSE now()
    END
$$;

-- Raises unless time_zone is a name PostgreSQL knows (pg_timezone_names), e.g. 'America/Los_Angeles'.
CREATE OR REPLACE FUNCTION _wh.assert_time_zone(time_zone text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF time_zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = time_zone) THEN
        RAISE EXCEPTION 'unknown time zone %', coalesce(quote_literal(time_zone), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give an IANA name such as ''America/Los_Angeles'' or ''Europe/Berlin'': SELECT name FROM pg_timezone_names lists them (names are case-sensitive).';
    END IF;
END
$$;

-- The time zone of a tenant's days (NULL: the session's TimeZone, i.e. CURRENT_DATE's).
CREATE OR REPLACE FUNCTION _wh.tenant_time_zone(target_schema text)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT t.time_zone FROM _wh.tenants t WHERE t.schema_name = target_schema $$;

-- The day it is now (_wh.now()) in a zone; without a zone, in the session's TimeZone (= CURRENT_DATE).
CREATE OR REPLACE FUNCTION _wh.today_in(time_zone text)
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN time_zone IS NULL THEN _wh.now()::date ELSE (_wh.now() AT TIME ZONE time_zone)::date END $$;

-- A tenant's today: the day it is now on the tenant's clock (its time_zone), else the session's CURRENT_DATE.
-- Its yesterday is tenant_today - 1; its closed days (no longer refreshed) are those before yesterday.
CREATE OR REPLACE FUNCTION _wh.tenant_today(target_schema text)
RETURNS date
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.today_in(_wh.tenant_time_zone(target_schema)) $$;

-- The instant a day ends (midnight after it) in a zone; without a zone, in the session's TimeZone. A day whose
-- rows were captured at or after this instant is complete (unless its source changes afterwards).
-- No SET clause (unlike every other function): a function with one is never inlined, and _wh.daily_views evaluates
-- this once per daily name. It uses only built-in operators and casts, which resolve in pg_catalog (always searched
-- first), so no search_path can change what it means.
CREATE OR REPLACE FUNCTION _wh.day_end(day date, time_zone text)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN time_zone IS NULL THEN (day + 1)::timestamp::timestamptz ELSE (day + 1)::timestamp AT TIME ZONE time_zone END $$;

-- Raises unless target_date is a day the warehouse can hold: not null, finite, not before 2000-01-01 (there is no
-- food-waste data that old, and a window from -infinity or a BC date would build days without end: the module refuses
-- the same), and not after today (_wh.now() in the session's TimeZone).
CREATE OR REPLACE FUNCTION _wh.assert_target_date(target_date date)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF target_date IS NULL THEN
        RAISE EXCEPTION 'target date is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(target_date) OR target_date < DATE '2000-01-01' THEN
        RAISE EXCEPTION 'target date % is before 2000-01-01 (or not a finite date): there is no data that old', target_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a date from 2000-01-01 to today, as YYYY-MM-DD.';
    END IF;
    IF target_date > _wh.today_in(NULL) THEN
        RAISE EXCEPTION 'target date % is in the future (today is %)', target_date, _wh.today_in(NULL)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Raises unless target_date is a day the warehouse can hold (not null, finite, not before 2000-01-01) and not after
-- the tenant's today (_wh.tenant_today).
CREATE OR REPLACE FUNCTION _wh.assert_target_date(target_date date, target_schema text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    today date := _wh.tenant_today(target_schema);
BEGIN
    IF target_date IS NULL THEN
        RAISE EXCEPTION 'target date is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT isfinite(target_date) OR target_date < DATE '2000-01-01' THEN
        RAISE EXCEPTION 'target date % is before 2000-01-01 (or not a finite date): there is no data that old', target_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a date from 2000-01-01 to today, as YYYY-MM-DD.';
    END IF;
    IF target_date > today THEN
        RAISE EXCEPTION 'target date % is in the future (today is % for tenant %)', target_date, today, target_schema
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
