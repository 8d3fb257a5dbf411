-- sql/wh/03-templates.sql: Templates: parsing and validation of column and index definitions, rendering, the template trigger.
-- Included by sql/functions.sql, in order; run it, not this file (psql: \i sql/functions.sql).

-- Parses a column list "name type, name type, ..." (commas inside parentheses or double
-- quotes do not split). Unquoted names are folded to lower case. Each type must resolve
-- with to_regtype. data_type is the canonical type name, or the declared text (lower-cased)
-- when it carries a modifier such as numeric(10,3). Raises naming the bad piece.
CREATE OR REPLACE FUNCTION _wh.parse_column_definitions(column_definitions text)
RETURNS TABLE (ordinal integer, column_name text, data_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pieces   text[] := '{}'::text[];
    cur      text := '';
    depth    integer := 0;
    in_quote boolean := false;
    ch       text;
    piece    text;
    m        text[];
    typ      text;
    typ_oid  regtype;
    seen     text[] := '{}'::text[];
    n        integer := 0;
BEGIN
    IF column_definitions IS NULL OR btrim(column_definitions) = '' THEN
        RAISE EXCEPTION 'column_definitions is empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. length(column_definitions) LOOP
        ch := substr(column_definitions, i, 1);
        IF ch = '"' THEN
            in_quote := NOT in_quote;
        ELSIF NOT in_quote AND ch = '(' THEN
            depth := depth + 1;
        ELSIF NOT in_quote AND ch = ')' THEN
            depth := depth - 1;
        ELSIF NOT in_quote AND depth = 0 AND ch = ',' THEN
            pieces := pieces || cur;
            cur := '';
            CONTINUE;
        END IF;
        cur := cur || ch;
    END LOOP;
    pieces := pieces || cur;

    FOREACH piece IN ARRAY pieces LOOP
        piece := btrim(regexp_replace(piece, '\s+', ' ', 'g'));
        IF piece = '' THEN
            RAISE EXCEPTION 'column_definitions: empty column definition (stray comma?)'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        m := regexp_match(piece, '^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*) (.+)$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'column_definitions: % is not "name type"', quote_literal(piece)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        typ := m[2];
        IF typ ~ '(--|/\*|;)' THEN
            RAISE EXCEPTION 'column_definitions: % contains a comment or semicolon', quote_literal(piece)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            typ_oid := to_regtype(typ);
        EXCEPTION WHEN OTHERS THEN
            typ_oid := NULL;
        END;
        IF typ_oid IS NULL THEN
            RAISE EXCEPTION 'column_definitions: unknown type in %', quote_literal(piece)
                USING ERRCODE = 'undefined_object';
        END IF;
        n := n + 1;
        ordinal := n;
        column_name := CASE WHEN left(m[1], 1) = '"'
                            THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"')
                            ELSE lower(m[1]) END;
        IF column_name = ANY (seen) THEN
            RAISE EXCEPTION 'column_definitions: column % is declared twice', column_name
                USING ERRCODE = 'duplicate_column';
        END IF;
        seen := seen || column_name;
        data_type := CASE WHEN typ ~ '\(' AND typ !~ '"' THEN lower(typ)
                          WHEN typ ~ '\(' THEN typ
                          ELSE format_type(typ_oid, NULL) END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Parses a template's index statements (separated by ';'). Each must read
-- CREATE [UNIQUE] INDEX [name] ON {SCHEMA}.{VIEW_NAME} <rest>. The name is discarded
-- (PostgreSQL picks unique names); rest is kept as written, e.g. "(id)" or "USING btree (x)".
CREATE OR REPLACE FUNCTION _wh.parse_index_definitions(indexes text)
RETURNS TABLE (ordinal integer, is_unique boolean, index_rest text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stmt text;
    m    text[];
    n    integer := 0;
BEGIN
    IF indexes IS NULL THEN
        RETURN;
    END IF;
    FOREACH stmt IN ARRAY string_to_array(indexes, ';') LOOP
        stmt := btrim(stmt, E' \t\r\n');
        CONTINUE WHEN stmt = '';
        m := regexp_match(stmt,
            '^create\s+(unique\s+)?index\s+(?:if\s+not\s+exists\s+)?(?:("[^"]+"|[A-Za-z0-9_{}$]+)\s+)?on\s+\{SCHEMA\}\.\{VIEW_NAME\}\s*(\S.*)$',
            'i');
        IF m IS NULL THEN
            RAISE EXCEPTION 'index definition % must read CREATE [UNIQUE] INDEX [name] ON {SCHEMA}.{VIEW_NAME} (...)', quote_literal(stmt)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        n := n + 1;
        ordinal := n;
        is_unique := m[1] IS NOT NULL;
        index_rest := m[3];
        RETURN NEXT;
    END LOOP;
END
$$;

-- Substitutes the template placeholders. Schema and view names are validated identifiers
-- ([a-z0-9_]) and the date is formatted YYYY-MM-DD, so the substitution cannot inject SQL.
CREATE OR REPLACE FUNCTION _wh.render_template_text(template_text text, target_schema text, view_name text, target_date date)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM _wh.assert_tenant_schema(target_schema);
    IF view_name !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid view name %', quote_literal(view_name) USING ERRCODE = 'invalid_name';
    END IF;
    RETURN replace(replace(replace(template_text,
        '{TARGET_DATE}', to_char(target_date, 'YYYY-MM-DD')),
        '{SCHEMA}', target_schema),
        '{VIEW_NAME}', view_name);
END
$$;

-- The columns of every daily, tenant and public view of a template, in order: the
-- template's declared columns, then client (text) unless the template declares it.
-- data_type is valid in a cast (NULL::<data_type>).
CREATE OR REPLACE FUNCTION _wh.template_columns(template_name text)
RETURNS TABLE (ordinal integer, column_name text, data_type text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    defs text;
    n    integer := 0;
    has_client boolean := false;
BEGIN
    SELECT t.column_definitions INTO defs FROM _wh.mv_templates t WHERE t.template_name = template_columns.template_name;
    IF NOT FOUND THEN
        PERFORM _wh.assert_template_exists(template_name);
    END IF;
    FOR ordinal, column_name, data_type IN SELECT * FROM _wh.parse_column_definitions(defs) LOOP
        n := ordinal;
        has_client := has_client OR column_name = 'client';
        RETURN NEXT;
    END LOOP;
    IF NOT has_client THEN
        ordinal := n + 1;
        column_name := 'client';
        data_type := 'text';
        RETURN NEXT;
    END IF;
END
$$;

-- Raises, naming the template, when a day's load met columns that do not match the template's column list (dblink:
-- "remote query result rowtype does not match the specified FROM clause rowtype"): the template is what to fix, not
-- the day. Called from the day paths' exception handlers (a view, a closed day).
CREATE OR REPLACE FUNCTION _wh.raise_template_columns_mismatch(template_name text, detail text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'template %: its query does not return the columns its column list declares (%)', template_name, detail
        USING ERRCODE = 'datatype_mismatch',
              HINT = format('Test-WhTemplate %s <tenant> shows which; fix the query or the column list (Set-WhTemplate %s), then load the day again.', template_name, template_name);
END
$$;

-- The keys a template declares unique (its CREATE UNIQUE INDEX definitions), as the expression list to group a day's
-- rows by (ASC/DESC/NULLS and INCLUDE dropped) and the index's WHERE condition (NULL when none): the one rule for
-- duplicate keys checks a closed day's rows against these before they are kept (load_closed_day), as the unique index
-- does for a daily materialized view. A definition that is not a parenthesised list is not returned.
CREATE OR REPLACE FUNCTION _wh.template_unique_keys(template_name text)
RETURNS TABLE (key_list text, key_condition text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    idx record;
    body text;
    m text[];
BEGIN
    FOR idx IN
        SELECT d.index_rest FROM _wh.mv_templates t CROSS JOIN LATERAL _wh.parse_index_definitions(t.indexes) d
        WHERE t.template_name = template_unique_keys.template_name AND d.is_unique ORDER BY d.ordinal
    LOOP
        m := regexp_match(idx.index_rest, '^(.*?)\s+where\s+(.*)$', 'is');
        body := coalesce(m[1], idx.index_rest);
        key_condition := m[2];
        body := regexp_replace(body, '\s+include\s*\([^()]*\)\s*$', '', 'i');
        body := regexp_replace(btrim(body), '^using\s+\w+\s*', '', 'i');
        m := regexp_match(body, '^\((.*)\)$', 's');
        CONTINUE WHEN m IS NULL;
        key_list := btrim(regexp_replace(m[1], '\s+(asc|desc|nulls\s+first|nulls\s+last)\M', '', 'gi'));
        RETURN NEXT;
    END LOOP;
END
$$;

-- The rule of duplicate keys, as an expression over the rows of a relation named src: the first key the template
-- declares unique that two of those rows share, as "(id)=(42)", else NULL (a hash of the keys per unique index, no
-- index needed); NULL when the template declares no unique key. With group_column, a key repeats only within one value
-- of that column of src (within a day, for _wh_day), and that value leads the result, then a tab:
-- "2024-01-02<tab>(id)=(42)" (insert_closed_days, many days in one statement).
CREATE OR REPLACE FUNCTION _wh.repeated_key_by_sql(template_name text, group_column text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'coalesce(' || string_agg(
               format('(SELECT pg_catalog.format(%L, %sROW(%s)::text) FROM src%s GROUP BY %s%s HAVING pg_catalog.count(*) > 1 LIMIT 1)',
                      CASE WHEN group_column IS NULL THEN '' ELSE '%s' || E'\t' END || '(' || k.key_list || ')=%s',
                      coalesce(quote_ident(group_column) || ', ', ''), k.key_list,
                      CASE WHEN k.key_condition IS NULL THEN '' ELSE ' WHERE ' || k.key_condition END,
                      coalesce(quote_ident(group_column) || ', ', ''), k.key_list),
               ', ') || ')'
    FROM _wh.template_unique_keys(template_name) k
$$;

-- repeated_key_by_sql over the rows of one day: "(id)=(42)" or NULL. Used by refresh_daily_view (over the view's
-- query, once a refresh failed on a repeated key).
CREATE OR REPLACE FUNCTION _wh.repeated_key_sql(template_name text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT _wh.repeated_key_by_sql(template_name, NULL) $$;

-- Raises the one error of a day whose source rows repeat a key the template declares unique (key: "(id)=(42)", or the
-- key's columns when the value is not known): the same for a daily materialized view (its unique index, at creation
-- and refresh) and a closed day loaded into <template>_closed (load_closed_day's check). The day is not kept.
CREATE OR REPLACE FUNCTION _wh.raise_duplicate_key(template_name text, target_date date, key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'day % has more than one row with the key % at the source, and template % declares that key unique',
                    target_date, key, template_name
        USING ERRCODE = 'unique_violation',
              HINT = format('Fix the rows of that day at the source, or declare the index without UNIQUE (Set-WhTemplate %s -Indexes ...), then load the day again (docs/reliability.md: duplicate keys).', template_name);
END
$$;

-- True when ch continues an identifier for the server's lexer (ident_cont: letters, digits, _, $, and every non-ASCII
-- character), so that a $ after it is part of the name (é$a$), not the start of a dollar quote.
CREATE OR REPLACE FUNCTION _wh.is_identifier_char(ch text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ch ~ '^[A-Za-z0-9_$]$' OR ascii(ch) > 127 $$;

-- Raises unless query is ONE statement that reads: SELECT, WITH, VALUES or TABLE (after
-- leading comments and parentheses), with nothing after its end but whitespace, comments and
-- semicolons. Quotes, double quotes, dollar quotes, E'' strings and comments are skipped, so a
-- ';' inside them does not count. A query_template runs at the source on every refresh: a
-- second statement would run there too (docs/security.md, finding 4).
CREATE OR REPLACE FUNCTION _wh.assert_single_select(query text, what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n        integer := length(coalesce(query, ''));
    i        integer := 1;
    ch       text;
    nxt      text;
    tag      text;
    depth    integer;
    ended    boolean := false;
    body     text := '';
    close_at integer;
    e_string boolean;
    parens   integer := 0;
BEGIN
    WHILE i <= n LOOP
        ch := substr(query, i, 1);
        nxt := substr(query, i + 1, 1);
        IF ch = '-' AND nxt = '-' THEN
            close_at := strpos(substr(query, i), E'\n');
            i := CASE WHEN close_at = 0 THEN n + 1 ELSE i + close_at END;
            body := body || ' ';
            CONTINUE;
        ELSIF ch = '/' AND nxt = '*' THEN
            depth := 1;
            i := i + 2;
            WHILE i <= n AND depth > 0 LOOP
                IF substr(query, i, 2) = '/*' THEN depth := depth + 1; i := i + 2;
                ELSIF substr(query, i, 2) = '*/' THEN depth := depth - 1; i := i + 2;
                ELSE i := i + 1;
                END IF;
            END LOOP;
            body := body || ' ';
            CONTINUE;
        ELSIF ch = ';' THEN
            ended := true;
            i := i + 1;
            CONTINUE;
        ELSIF ch ~ '\s' THEN
            body := body || ' ';
            i := i + 1;
            CONTINUE;
        END IF;
        IF ended THEN
            RAISE EXCEPTION '% holds more than one statement: % follows a semicolon', what, quote_literal(left(substr(query, i), 40))
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A template''s query is one SELECT: it runs at the source on every refresh, so a second statement would run there too. Remove everything after the first statement.';
        END IF;
        IF ch = '''' THEN
            -- E'...' strings know backslash escapes; other strings only ''.
            e_string := i > 1 AND lower(substr(query, i - 1, 1)) = 'e' AND (i = 2 OR NOT _wh.is_identifier_char(substr(query, i - 2, 1)));
            i := i + 1;
            LOOP
                EXIT WHEN i > n;
                IF e_string AND substr(query, i, 1) = '\' THEN
                    i := i + 2;
                ELSIF substr(query, i, 1) = '''' THEN
                    EXIT WHEN substr(query, i + 1, 1) <> '''';
                    i := i + 2;
                ELSE
                    i := i + 1;
                END IF;
            END LOOP;
            i := i + 1;
            body := body || ' ''s'' ';
            CONTINUE;
        ELSIF ch = '"' THEN
            i := i + 1;
            LOOP
                EXIT WHEN i > n;
                IF substr(query, i, 1) = '"' THEN
                    EXIT WHEN substr(query, i + 1, 1) <> '"';
                    i := i + 2;
                ELSE
                    i := i + 1;
                END IF;
            END LOOP;
            i := i + 1;
            body := body || ' "q" ';
            CONTINUE;
        ELSIF ch = '$' AND (i = 1 OR NOT _wh.is_identifier_char(substr(query, i - 1, 1))) THEN
            -- A tag is empty or a name as the server's lexer reads one (its letters include every non-ASCII character).
            tag := substring(substr(query, i) FROM '^(\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$)');
            IF tag IS NOT NULL THEN
                close_at := strpos(substr(query, i + length(tag)), tag);
                i := CASE WHEN close_at = 0 THEN n + 1 ELSE i + length(tag) + close_at - 1 + length(tag) END;
                body := body || ' ''s'' ';
                CONTINUE;
            END IF;
        END IF;
        IF ch = '(' THEN
            parens := parens + 1;
        ELSIF ch = ')' THEN
            parens := parens - 1;
            IF parens < 0 THEN
                RAISE EXCEPTION '% closes a parenthesis it did not open (at %)', what, quote_literal(left(substr(query, i), 40))
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'A template''s query runs inside the warehouse''s own parentheses at the source: it must be one SELECT with balanced parentheses.';
            END IF;
        END IF;
        body := body || ch;
        i := i + 1;
    END LOOP;
    IF parens <> 0 THEN
        RAISE EXCEPTION '% leaves % parenthesis(es) open', what, parens
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query is one SELECT with balanced parentheses.';
    END IF;
    -- A data-modifying WITH (WITH d AS (DELETE ...) SELECT ...) is one statement that writes: refused, not left to the
    -- source's grants and read-only session.
    IF body ~* '\mas\s*(not\s+)?(materialized\s+)?\(\s*(insert|update|delete|merge)\M' THEN
        RAISE EXCEPTION '% holds a data-modifying WITH (INSERT, UPDATE, DELETE or MERGE): a template only reads', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query runs at the source on every refresh: it must read only.';
    END IF;
    -- A SELECT can still change its session (set_config): at the source it could turn the read-only default off for the
    -- kept connection's next statements. Refused.
    IF body ~* '\mset_config\s*\(' THEN
        RAISE EXCEPTION '% calls set_config: a template may not change the settings of its source session', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template''s query runs at the source in a read-only session that it must leave as it is.';
    END IF;
    IF ltrim(btrim(body), '( ') !~* '^(select|with|values|table)\M' THEN
        RAISE EXCEPTION '% must be a query (SELECT, WITH, VALUES or TABLE), not %', what, quote_literal(left(btrim(body), 40))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A template reads the source: its query_template is one SELECT with {TARGET_DATE} in its WHERE clause.';
    END IF;
END
$$;

-- Trigger: validates a template row (name, one read-only statement, placeholders, columns, indexes) and stamps times.
CREATE OR REPLACE FUNCTION _wh.mv_templates_validate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unknown text;
BEGIN
    PERFORM _wh.assert_template_name(NEW.template_name);
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM _wh.mv_templates t WHERE t.template_name = NEW.template_name) THEN
        PERFORM _wh.assert_new_name('template', NEW.template_name);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.template_name <> OLD.template_name THEN
        RAISE EXCEPTION 'a template cannot be renamed (% -> %): insert a new one', OLD.template_name, NEW.template_name
            USING ERRCODE = 'feature_not_supported';
    END IF;
    SELECT string_agg(DISTINCT '{' || m[1] || '}', ', ') INTO unknown
    FROM regexp_matches(NEW.query_template || ' ' || coalesce(NEW.indexes, ''), '\{([A-Za-z_][A-Za-z0-9_]*)\}', 'g') AS m
    WHERE m[1] NOT IN ('TARGET_DATE', 'SCHEMA', 'VIEW_NAME');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'template %: unknown placeholder %', NEW.template_name, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Known placeholders: {TARGET_DATE}, {SCHEMA}, {VIEW_NAME}.';
    END IF;
    PERFORM _wh.assert_single_select(NEW.query_template, format('template %s: query_template', NEW.template_name));
    IF position('{TARGET_DATE}' IN NEW.query_template) = 0 THEN
        RAISE WARNING 'template %: query_template has no {TARGET_DATE}: every daily view will hold the same rows', NEW.template_name;
    END IF;
    PERFORM count(*) FROM _wh.parse_column_definitions(NEW.column_definitions);
    PERFORM count(*) FROM _wh.parse_index_definitions(NEW.indexes);
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := coalesce(NEW.created_at, now());
    ELSE
        NEW.created_at := OLD.created_at;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER mv_templates_validate
    BEFORE INSERT OR UPDATE ON _wh.mv_templates
    FOR EACH ROW EXECUTE FUNCTION _wh.mv_templates_validate();
