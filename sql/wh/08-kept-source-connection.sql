-- sql/wh/08-kept-source-connection.sql: The source connection a session keeps (_wh.session_dblink), at most one, and its closing.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- A dblink connection to server_name kept for this session (named after the server and a hash
-- of its options and of whadmin's mapping, so a changed host or password opens a new one). Saves
-- the connection set-up (SCRAM, backend start: 30-50 ms) for every closed day after the first one
-- a session loads. A session keeps at most ONE: connecting to a server first closes every other
-- kept connection of the session (whatever its server), so N workers moving from tenant to tenant
-- hold at most N connections on the source servers, not one per tenant they have visited.
-- Registers the kept connection in _wh.kept_dblinks (Get-WhHealth counts them).
CREATE OR REPLACE FUNCTION _wh.session_dblink(server_name text, reconnect boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    conn text;
    started timestamptz;
BEGIN
    SELECT left(s.srvname, 30) || '_' || md5(coalesce(s.srvoptions::text, '') || coalesce(um.umoptions::text, ''))
    INTO conn
    FROM pg_catalog.pg_foreign_server s
    LEFT JOIN pg_catalog.pg_user_mappings um ON um.srvid = s.oid AND um.usename = current_user
    WHERE s.srvname = server_name;
    IF conn IS NULL THEN
        RAISE EXCEPTION 'foreign server % does not exist', server_name USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT reconnect AND conn = ANY (coalesce(public.dblink_get_connections(), '{}')) THEN
        -- Registered again when the transaction that registered it rolled back (a failed day).
        IF NOT EXISTS (SELECT 1 FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid() AND k.connection_name = conn) THEN
            SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
            INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
            VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
            ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                            connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
        END IF;
        RETURN conn;
    END IF;
    PERFORM _wh.close_session_dblinks();
    PERFORM public.dblink_connect(conn, server_name);
    SELECT a.backend_start INTO started FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid();
    -- Rows of ended backends; SKIP LOCKED: never wait for (or deadlock with) another session clearing them.
    DELETE FROM _wh.kept_dblinks k
    WHERE k.pid IN (SELECT s.pid FROM _wh.kept_dblinks s
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = s.pid
                                      AND (a.backend_start IS NULL OR s.backend_start IS NULL OR a.backend_start = s.backend_start))
                    FOR UPDATE SKIP LOCKED);
    INSERT INTO _wh.kept_dblinks AS k (pid, backend_start, server_name, connection_name)
    VALUES (pg_catalog.pg_backend_pid(), started, session_dblink.server_name, conn)
    ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, server_name = EXCLUDED.server_name,
                                    connection_name = EXCLUDED.connection_name, connected_at = EXCLUDED.connected_at;
    RETURN conn;
END
$$;

-- Closes every dblink connection this session keeps (session_dblink's, named <server>_<md5>; a
-- DBA's own named dblink connections are left alone). Called before a statement opens a dblink
-- connection of its own (creating or refreshing a daily materialized view, whose definition names
-- the server), so that a session never holds two source connections at once, and by the module
-- when a backfill worker ends. Returns how many were closed.
CREATE OR REPLACE FUNCTION _wh.close_session_dblinks()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept text;
    closed integer := 0;
BEGIN
    FOREACH kept IN ARRAY coalesce(public.dblink_get_connections(), '{}') LOOP
        IF kept ~ '_[0-9a-f]{32}$' THEN
            PERFORM public.dblink_disconnect(kept);
            closed := closed + 1;
        END IF;
    END LOOP;
    DELETE FROM _wh.kept_dblinks k WHERE k.pid = pg_catalog.pg_backend_pid();
    RETURN closed;
END
$$;
