-- The foodlogstats template: one day of a tenant's food waste log (phood_foodlogsum) with
-- the location name. Run as whadmin (\i sql/template-foodlogstats.sql); re-running updates
-- the template in place (ON CONFLICT DO UPDATE; is_default, once set by a DBA, is kept). Existing daily views keep their definition
-- until they are re-created (_wh.update_mv_by_template(..., force => true)).
--
-- Daily view columns (the public contract BI tools use, see tenant-source-schema.sql):
--   id bigint, logged_time timestamp, location text, station text, food_name text,
--   waste_reason text, meal_period text, weight numeric, cost numeric, client text
-- client is appended by the warehouse (the tenant's client name), so it is not listed here.
--
-- The date filter is a half-open range on logged_time, so the source index on logged_time
-- is used (logged_time::date = ... cannot use it).

INSERT INTO _wh.mv_templates (template_name, description, query_template, column_definitions, indexes, is_default)
VALUES (
    'foodlogstats',
    'Daily food waste log: one row per weighing (phood_foodlogsum) with its location name',
    $template$
SELECT
    f.id::bigint,
    f.logged_time,
    l.name::text AS location,
    f.station::text,
    f.food_name::text,
    f.waste_reason::text,
    f.meal_period::text,
    f.weight::numeric,
    f.cost::numeric
FROM phood_foodlogsum f
LEFT JOIN locations l ON l.id = f.location_id
WHERE f.logged_time >= '{TARGET_DATE}'::date
  AND f.logged_time <  '{TARGET_DATE}'::date + 1
$template$,
    $columns$
id bigint,
logged_time timestamp,
location text,
station text,
food_name text,
waste_reason text,
meal_period text,
weight numeric,
cost numeric
$columns$,
    $indexes$
CREATE UNIQUE INDEX ON {SCHEMA}.{VIEW_NAME} (id);
CREATE INDEX ON {SCHEMA}.{VIEW_NAME} (logged_time);
CREATE INDEX ON {SCHEMA}.{VIEW_NAME} (client);
$indexes$,
    true  -- a default template: New-WhTenant gives it to every new tenant unless -Template says otherwise
)
ON CONFLICT (template_name) DO UPDATE
SET description        = EXCLUDED.description,
    query_template     = EXCLUDED.query_template,
    column_definitions = EXCLUDED.column_definitions,
    indexes            = EXCLUDED.indexes;
