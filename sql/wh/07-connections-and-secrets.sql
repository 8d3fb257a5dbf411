-- sql/wh/07-connections-and-secrets.sql: Tenant connections: foreign servers and user mappings (the secrets), their options, _wh.set_setting.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- TLS settings of a source connection (libpq's sslmode, channel_binding and sslrootcert, the
-- CA file: an absolute path on the warehouse server, read by its server process; NULL: libpq's
-- default). They go into the foreign server's options (docs/security.md, finding 2).
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS sslmode text;
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS channel_binding text;
ALTER TABLE _wh.tenant_connections ADD COLUMN IF NOT EXISTS sslrootcert text;

-- The options of a connection's foreign server, by name (NULL: the option is not set).
-- Every remote session is read-only and bounded: options carries
-- default_transaction_read_only=on and statement_timeout (docs/security.md, findings 3, 4).
CREATE OR REPLACE FUNCTION _wh.server_options(c _wh.tenant_connections)
RETURNS TABLE (option_name text, option_value text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF c.sslmode IS NOT NULL AND c.sslmode NOT IN ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') THEN
        RAISE EXCEPTION 'connection %: sslmode % is not one of disable, allow, prefer, require, verify-ca, verify-full', c.tenant_name, quote_literal(c.sslmode)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use verify-full to check the source''s certificate and host name (the CA in the warehouse server''s ~/.postgresql/root.crt).';
    END IF;
    IF c.channel_binding IS NOT NULL AND c.channel_binding NOT IN ('disable', 'prefer', 'require') THEN
        RAISE EXCEPTION 'connection %: channel_binding % is not one of disable, prefer, require', c.tenant_name, quote_literal(c.channel_binding)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- libpq reads a relative sslrootcert from the server process's working directory (the data
    -- directory): refused.
    IF c.sslrootcert IS NOT NULL AND c.sslrootcert !~ '^(/|[A-Za-z]:[\\/])' THEN
        RAISE EXCEPTION 'connection %: sslrootcert % is not an absolute path', c.tenant_name, quote_literal(c.sslrootcert)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the full path of the CA file on the warehouse server (e.g. /etc/postgresql/source-ca.crt); the postgres OS user must be able to read it.';
    END IF;
    -- A source that stops answering costs a bounded time: connect_timeout bounds the connection (a frozen postmaster
    -- accepts the TCP connection and never answers), keepalives and tcp_user_timeout bound a connection whose network
    -- path is gone (PostgreSQL 15's dblink cannot be interrupted while it waits: only the socket can end the wait).
    RETURN QUERY VALUES
        ('host', c.host), ('port', c.port::text), ('dbname', c.dbname),
        ('sslmode', c.sslmode), ('channel_binding', c.channel_binding), ('sslrootcert', c.sslrootcert),
        ('options', format('-c default_transaction_read_only=on -c statement_timeout=%s',
                           _wh.timeout_ms('source_statement_timeout'))),
        ('connect_timeout', greatest(2, ceil(_wh.timeout_ms('source_connect_timeout') / 1000.0))::bigint::text),
        -- A session waiting for a source's answer sends nothing, so tcp_user_timeout alone never fires there: keepalive
        -- probes (the first after half of it, then every sixth) are what notices the path is gone, within about 1.5x it.
        ('keepalives', '1'),
        ('keepalives_idle', greatest(1, _wh.timeout_ms('source_tcp_user_timeout') / 2000)::text),
        ('keepalives_interval', greatest(1, _wh.timeout_ms('source_tcp_user_timeout') / 6000)::text),
        ('keepalives_count', '3'),
        ('tcp_user_timeout', _wh.timeout_ms('source_tcp_user_timeout')::text);
END
$$;

-- Creates the foreign server of a connection, or brings its options in step with the row
-- (ALTER SERVER only when something differs). Returns true when it changed anything.
CREATE OR REPLACE FUNCTION _wh.sync_foreign_server(c _wh.tenant_connections)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv     text := _wh.server_name(c.tenant_name);
    opts    text[];
    changes text[] := '{}'::text[];
    k       text;
    v       text;
    cur     text;
BEGIN
    SELECT s.srvoptions INTO opts FROM pg_catalog.pg_foreign_server s WHERE s.srvname = srv;
    IF NOT FOUND THEN
        SELECT string_agg(format('%I %L', o.option_name, o.option_value), ', ') INTO v
        FROM _wh.server_options(c) o WHERE o.option_value IS NOT NULL;
        EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER dblink_fdw OPTIONS (%s)', srv, v);
        RETURN true;
    END IF;
    FOR k, v IN SELECT o.option_name, o.option_value FROM _wh.server_options(c) o LOOP
        cur := (SELECT substr(x, length(k) + 2) FROM unnest(opts) x WHERE left(x, length(k) + 1) = k || '=');
        IF v IS NULL AND cur IS NOT NULL THEN
            changes := changes || format('DROP %I', k);
        ELSIF v IS NOT NULL AND cur IS NULL THEN
            changes := changes || format('ADD %I %L', k, v);
        ELSIF v IS DISTINCT FROM cur THEN
            changes := changes || format('SET %I %L', k, v);
        END IF;
    END LOOP;
    IF cardinality(changes) = 0 THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER SERVER %I OPTIONS (%s)', srv, array_to_string(changes, ', '));
    RETURN true;
END
$$;

-- Creates or updates the user mapping FOR whadmin on server_name. A NULL password keeps the
-- mapping's current password. Runs as whadmin (called from the SECURITY DEFINER trigger).
CREATE OR REPLACE FUNCTION _wh.sync_user_mapping(server_name text, username text, password text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    opts text[];
    has_password boolean;
    changes text[] := '{}'::text[];
BEGIN
    SELECT um.umoptions INTO opts
    FROM pg_catalog.pg_user_mappings um
    WHERE um.srvname = server_name AND um.usename = 'whadmin';
    IF NOT FOUND THEN
        IF password IS NULL THEN
            EXECUTE format('CREATE USER MAPPING FOR whadmin SERVER %I OPTIONS (user %L)', server_name, username);
        ELSE
            EXECUTE format('CREATE USER MAPPING FOR whadmin SERVER %I OPTIONS (user %L, password %L)', server_name, username, password);
        END IF;
        RETURN;
    END IF;
    has_password := EXISTS (SELECT 1 FROM unnest(opts) o WHERE o LIKE 'password=%');
    changes := changes || format('%s user %L',
        CASE WHEN EXISTS (SELECT 1 FROM unnest(opts) o WHERE o LIKE 'user=%') THEN 'SET' ELSE 'ADD' END, username);
    IF password IS NOT NULL THEN
        changes := changes || format('%s password %L', CASE WHEN has_password THEN 'SET' ELSE 'ADD' END, password);
    END IF;
    EXECUTE format('ALTER USER MAPPING FOR whadmin SERVER %I OPTIONS (%s)', server_name, array_to_string(changes, ', '));
EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- The statement holds the password, and an error's context quotes it into the server log (a rotation that waits
    -- behind a lock and is cancelled, say): re-raised with the message and SQLSTATE only.
    RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = format('could not set the user mapping of server %s: %s', server_name, SQLERRM);
END
$$;

-- Trigger: keeps the foreign server 'wh_<tenant_name>' (dblink_fdw; host, port, dbname,
-- sslmode, channel_binding, sslrootcert, and read-only, bounded sessions: _wh.server_options)
-- and its user mapping FOR whadmin (user, password) in step with the row. The password goes
-- into the mapping and NULL is stored; an UPDATE with a NULL password keeps the mapping's,
-- unless the source moves (host, port, dbname, sslmode, channel_binding, sslrootcert): that is
-- refused.
-- DELETE drops server and mapping, refusing while a tenant schema still uses the connection.
-- Servers and mappings are owned by whadmin whoever changes the table.
CREATE OR REPLACE FUNCTION _wh.tenant_connections_sync()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv    text;
    live   text;
    pruned integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        srv := _wh.server_name(OLD.tenant_name);
        -- Tenants whose schema is already gone (the guide drops the schema first) are unregistered.
        DELETE FROM _wh.tenants t
        WHERE t.connection_name = OLD.tenant_name
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = t.schema_name);
        GET DIAGNOSTICS pruned = ROW_COUNT;
        SELECT string_agg(t.schema_name, ', ') INTO live FROM _wh.tenants t WHERE t.connection_name = OLD.tenant_name;
        IF live IS NOT NULL THEN
            RAISE EXCEPTION 'connection % is still used by tenant schema(s) %', OLD.tenant_name, live
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Remove the tenant first: SELECT _wh.remove_tenant(''<schema>'');';
        END IF;
        IF pruned > 0 THEN
            PERFORM _wh.rebuild_public_views();
        END IF;
        EXECUTE format('DROP USER MAPPING IF EXISTS FOR whadmin SERVER %I', srv);
        -- No CASCADE: a mapping or foreign table someone else added makes this fail loudly.
        EXECUTE format('DROP SERVER IF EXISTS %I', srv);
        RETURN OLD;
    END IF;

    PERFORM _wh.assert_connection_name(NEW.tenant_name);
    -- An INSERT of a name that exists changes no server: it fails on the key, is skipped (ON CONFLICT DO NOTHING), or
    -- becomes an UPDATE (ON CONFLICT DO UPDATE, which comes back here with the new values). Otherwise its server would
    -- point elsewhere, with the old password, while the row still showed the old source.
    IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM _wh.tenant_connections c WHERE c.tenant_name = NEW.tenant_name) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM _wh.assert_new_name('connection', NEW.tenant_name);
    END IF;
    -- An IPv6 literal as a URL writes it ([::1]) is libpq's ::1: stored as libpq reads it.
    NEW.host := regexp_replace(NEW.host, '^\[([0-9A-Fa-f:.]+(%[^]]+)?)\]$', '\1');
    IF TG_OP = 'UPDATE' AND NEW.tenant_name <> OLD.tenant_name THEN
        RAISE EXCEPTION 'a connection cannot be renamed (% -> %): daily views refer to its server by name', OLD.tenant_name, NEW.tenant_name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Insert a new connection and move tenants to it.';
    END IF;
    IF NEW.port IS NULL OR NEW.port NOT BETWEEN 1 AND 65535 THEN
        RAISE EXCEPTION 'invalid port % for connection %', NEW.port, NEW.tenant_name USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- A password goes only where it was given (docs/security.md, finding 2): the mapping's
    -- password is not sent to a new host, port, database or weaker TLS.
    IF TG_OP = 'UPDATE' AND NEW.password IS NULL
       AND (NEW.host, NEW.port, NEW.dbname, NEW.sslmode, NEW.channel_binding, NEW.sslrootcert)
           IS DISTINCT FROM (OLD.host, OLD.port, OLD.dbname, OLD.sslmode, OLD.channel_binding, OLD.sslrootcert) THEN
        RAISE EXCEPTION 'connection %: the source moves (% -> %) but no new password was given', NEW.tenant_name,
            format('%s:%s/%s sslmode=%s', OLD.host, OLD.port, OLD.dbname, coalesce(OLD.sslmode, 'default')),
            format('%s:%s/%s sslmode=%s', NEW.host, NEW.port, NEW.dbname, coalesce(NEW.sslmode, 'default'))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The stored password is only sent to the source it was given for. Set password in the same UPDATE: UPDATE _wh.tenant_connections SET host = ..., password = ''...'' WHERE tenant_name = ...;';
    END IF;

    srv := _wh.server_name(NEW.tenant_name);
    PERFORM _wh.sync_foreign_server(NEW);
    PERFORM _wh.sync_user_mapping(srv, NEW.username, NEW.password);

    NEW.password := NULL;
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := coalesce(NEW.created_at, now());
        NEW.updated_at := NULL;
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER tenant_connections_sync
    BEFORE INSERT OR UPDATE OR DELETE ON _wh.tenant_connections
    FOR EACH ROW EXECUTE FUNCTION _wh.tenant_connections_sync();

-- Trigger: TRUNCATE of _wh.tenant_connections is refused: it fires no row trigger, so every server and user mapping,
-- passwords included, would stay behind without a row. DELETE removes each with its server and mapping.
CREATE OR REPLACE FUNCTION _wh.tenant_connections_no_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of _wh.tenant_connections is refused: it would leave every foreign server and its password behind'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Remove tenants with _wh.remove_tenant(''<schema>'') (or Remove-WhTenant), or DELETE FROM _wh.tenant_connections, which drops each server and mapping.';
END
$$;

CREATE OR REPLACE TRIGGER tenant_connections_no_truncate
    BEFORE TRUNCATE ON _wh.tenant_connections
    FOR EACH STATEMENT EXECUTE FUNCTION _wh.tenant_connections_no_truncate();

-- Upgrade: rows written before this trigger existed (plain-text passwords, no server) are
-- moved into servers and mappings now.
UPDATE _wh.tenant_connections c
SET updated_at = c.updated_at
WHERE c.password IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server s WHERE s.srvname = _wh.server_name(c.tenant_name));

-- Brings every foreign server's options in step with its row and the settings (read-only,
-- statement_timeout, connect_timeout, tcp_user_timeout): run after changing source_statement_timeout,
-- source_connect_timeout or source_tcp_user_timeout. Returns how many changed.
-- Also the upgrade of servers created before these options existed (re-running this file).
CREATE OR REPLACE FUNCTION _wh.sync_foreign_servers()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)::integer FROM _wh.tenant_connections c WHERE _wh.sync_foreign_server(c);
$$;

-- upgrade from < 2.2.0: every foreign server gets connect_timeout, keepalives and tcp_user_timeout, so a source that stops answering is given up in bounded time; from < 2.3.0: its keepalives follow source_tcp_user_timeout
DO $sync$ BEGIN PERFORM _wh.sync_foreign_servers(); END $sync$;

-- What dblink needs to reach a tenant: the name of its foreign server (dblink accepts a
-- server name wherever it accepts a connection string). No secret is returned.
-- Raises when the connection or its server does not exist.
CREATE OR REPLACE FUNCTION _wh.get_tenant_connection_string(tenant_connection_name text)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _wh.tenant_connections c WHERE c.tenant_name = tenant_connection_name) THEN
        RAISE EXCEPTION 'tenant connection % does not exist', coalesce(quote_literal(tenant_connection_name), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'If its tenant was removed (Remove-WhTenant, _wh.remove_tenant), there is nothing to load. Otherwise add the connection: New-WhTenant, or INSERT INTO _wh.tenant_connections (tenant_name, host, port, dbname, username, password) VALUES (...)';
    END IF;
    srv := _wh.server_name(tenant_connection_name);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_server s WHERE s.srvname = srv) THEN
        RAISE EXCEPTION 'foreign server % of connection % is missing', srv, tenant_connection_name
            USING ERRCODE = 'undefined_object',
                  HINT = format('Re-create it: UPDATE _wh.tenant_connections SET password = ''...'' WHERE tenant_name = %L;', tenant_connection_name);
    END IF;
    RETURN srv;
END
$$;

-- Sets one of _wh.settings() after checking its value (a duration for *_timeout and freshness_sla, a whole number of
-- days otherwise),
-- and brings every foreign server in step when it is a source_* setting. Raises, changing nothing, for an unknown key
-- or a value of the wrong kind. Returns true when the value changed.
CREATE OR REPLACE FUNCTION _wh.set_setting(setting_key text, setting_value text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_value text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM _wh.settings() s WHERE s.key = setting_key) THEN
        RAISE EXCEPTION 'unknown warehouse setting %', coalesce(quote_literal(setting_key), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The settings: ' || (SELECT string_agg(s.key, ', ' ORDER BY s.key) FROM _wh.settings() s) || '.';
    END IF;
    IF setting_key LIKE '%\_timeout' OR setting_key = 'freshness_sla' THEN
        BEGIN
            PERFORM setting_value::interval;
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'warehouse setting %: % is not a duration', setting_key, coalesce(quote_literal(setting_value), 'NULL')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Give a duration such as ''30s'' or ''10min''.';
        END;
    ELSIF setting_value IS NULL OR setting_value !~ '^[0-9]{1,6}$' THEN
        RAISE EXCEPTION 'warehouse setting %: % is not a whole number of days', setting_key, coalesce(quote_literal(setting_value), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT i.value INTO old_value FROM _wh.warehouse_info i WHERE i.key = setting_key;
    IF old_value IS NOT DISTINCT FROM setting_value THEN
        RETURN false;
    END IF;
    INSERT INTO _wh.warehouse_info (key, value) VALUES (setting_key, setting_value)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    IF setting_key LIKE 'source\_%' THEN
        PERFORM _wh.sync_foreign_servers();
    END IF;
    RETURN true;
END
$$;
