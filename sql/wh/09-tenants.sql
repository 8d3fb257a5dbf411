-- sql/wh/09-tenants.sql: Tenants: schemas, registration and time zones.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Ensures the tenant schema exists. A new schema is owned by whadmin, phood_ro gets USAGE and
-- (default privileges) SELECT on every table/view whadmin creates in it. An existing schema
-- must grant whadmin CREATE.
CREATE OR REPLACE FUNCTION _wh.ensure_tenant_schema(target_schema text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM pg_advisory_xact_lock(hashtext('_wh.schema'), hashtext(target_schema));
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        PERFORM _wh.assert_new_name('tenant schema', target_schema);
        EXECUTE format('CREATE SCHEMA %I', target_schema);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO phood_ro', target_schema);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE whadmin IN SCHEMA %I GRANT SELECT ON TABLES TO phood_ro', target_schema);
    ELSIF NOT has_schema_privilege('whadmin', target_schema, 'CREATE, USAGE') THEN
        RAISE EXCEPTION 'whadmin has no CREATE and USAGE privilege on schema %', target_schema
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('As its owner: GRANT ALL ON SCHEMA %I TO whadmin; GRANT USAGE ON SCHEMA %I TO phood_ro;', target_schema, target_schema);
    END IF;
END
$$;

-- Whether target_schema is a registered tenant, holding its registration (FOR KEY SHARE) until the caller's
-- transaction ends: the module's backfill asks it in each day's transaction before loading the day, so a removal
-- (_wh.remove_tenant deletes the registration first) waits for the day in flight, and a day of a tenant removed
-- during the run is not loaded (update_mv_by_template registers a tenant on first use, and would bring a removed
-- tenant back when its connection is shared with another tenant).
CREATE OR REPLACE FUNCTION _wh.hold_registered_tenant(target_schema text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM _wh.tenants t WHERE t.schema_name = target_schema FOR KEY SHARE;
    RETURN FOUND;
END
$$;

-- Registers (connection, schema) as a tenant the first time it is used, creating the schema
-- when missing; client_name defaults to the schema name. Returns the registered client name.
-- Raises when the connection is unknown or the schema is registered with another connection.
CREATE OR REPLACE FUNCTION _wh.ensure_tenant(tenant_connection_name text, target_schema text, client_name text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reg _wh.tenants;
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    PERFORM _wh.get_tenant_connection_string(tenant_connection_name);
    SELECT * INTO reg FROM _wh.tenants t WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        PERFORM _wh.ensure_tenant_schema(target_schema);
        INSERT INTO _wh.tenants (schema_name, connection_name, client_name)
        VALUES (target_schema, tenant_connection_name, coalesce(ensure_tenant.client_name, target_schema))
        ON CONFLICT (schema_name) DO NOTHING;
        SELECT * INTO reg FROM _wh.tenants t WHERE t.schema_name = target_schema;
    ELSIF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = target_schema) THEN
        PERFORM _wh.ensure_tenant_schema(target_schema);
    END IF;
    IF reg.connection_name <> tenant_connection_name THEN
        RAISE EXCEPTION 'schema % is registered for connection %, not %', target_schema, reg.connection_name, tenant_connection_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('To move it: UPDATE _wh.tenants SET connection_name = %L WHERE schema_name = %L;', tenant_connection_name, target_schema);
    END IF;
    RETURN reg.client_name;
END
$$;

-- Trigger: a tenant's time zone, when set, is one PostgreSQL knows.
CREATE OR REPLACE FUNCTION _wh.tenants_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(NEW.time_zone);
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER tenants_validate
    BEFORE INSERT OR UPDATE OF time_zone ON _wh.tenants
    FOR EACH ROW EXECUTE FUNCTION _wh.tenants_validate();

-- Sets (or with NULL clears) the time zone of a registered tenant; raises for an unknown tenant or zone, and for a zone
-- in which a day already loaded would still be in the future. Returns {"schema","time_zone","today"}.
CREATE OR REPLACE FUNCTION _wh.set_tenant_time_zone(target_schema text, time_zone text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_today date;
    ahead     date;
BEGIN
    IF time_zone IS NOT NULL THEN
        PERFORM _wh.assert_time_zone(time_zone);
    END IF;
    -- A zone to the west can make the tenant's today earlier than a day already loaded: that day would be in the
    -- tenant's future (never checked, "Behind -1"). Refused until the tenant's clock reaches it.
    new_today := _wh.today_in(time_zone);
    SELECT max(s.day) INTO ahead FROM _wh.day_state s
    WHERE s.schema_name = target_schema AND s.captured_at IS NOT NULL AND s.day > new_today;
    IF ahead IS NOT NULL THEN
        RAISE EXCEPTION 'tenant %: in time zone % today is %, but day % is already loaded', target_schema,
            coalesce(time_zone, current_setting('TimeZone')), new_today, ahead
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Change the zone once that day has begun in it, or drop the day first (Remove-WhMv).';
    END IF;
    UPDATE _wh.tenants t SET time_zone = set_tenant_time_zone.time_zone WHERE t.schema_name = target_schema;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant schema % is not registered', coalesce(quote_literal(target_schema), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN jsonb_build_object('schema', target_schema, 'time_zone', time_zone, 'today', _wh.tenant_today(target_schema));
END
$$;
