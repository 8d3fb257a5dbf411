namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>Text the operations guide gives, verbatim, shared by the tests that run it.</summary>
public static class GuideExamples
{
    /// <summary>"Adding a New Template", step 1: sql/template-inventory_stats.sql (without its final semicolon).</summary>
    public const string InventoryStatsTemplate =
        """
        -- Example: sql/template-inventory_stats.sql
        INSERT INTO _wh.mv_templates (
            template_name,
            description,
            query_template,
            column_definitions,
            indexes
        ) VALUES (
            'inventory_stats',
            'Daily inventory statistics with movement tracking',
            $template$
        SELECT
            i.id,
            l.name AS location,
            i.item_name,
            i.current_stock,
            i.movement_type,
            i.quantity_change,
            i.timestamp AS recorded_time
        FROM inventory_movements i
        LEFT JOIN locations l ON i.location_id = l.id
        WHERE i.timestamp::DATE = '{TARGET_DATE}'::DATE
        $template$,
            $columns$
        id INTEGER,
        location TEXT,
        item_name TEXT,
        current_stock INTEGER,
        movement_type TEXT,
        quantity_change INTEGER,
        recorded_time TIMESTAMP
        $columns$,
            'CREATE UNIQUE INDEX idx_{SCHEMA}_{VIEW_NAME}_id ON {SCHEMA}.{VIEW_NAME} (id);
        CREATE INDEX idx_{SCHEMA}_{VIEW_NAME}_recorded_time ON {SCHEMA}.{VIEW_NAME} (recorded_time);
        CREATE INDEX idx_{SCHEMA}_{VIEW_NAME}_location ON {SCHEMA}.{VIEW_NAME} (location);'
        )
        """;
}
