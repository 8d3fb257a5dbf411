namespace PhoodWarehouse.Core.Configuration;

/// <summary>The warehouse's settings as it has them now (<c>_wh.settings()</c>, each with its value or its default), by key.</summary>
internal static class WarehouseSettings
{
    public static async Task<SortedDictionary<string, string>> ReadAsync(NpgsqlConnection db, CancellationToken cancel)
    {
        var settings = await Db.ReadAllAsync(db,
            "SELECT s.key, coalesce(i.value, s.default_value) FROM _wh.settings() s LEFT JOIN _wh.warehouse_info i ON i.key = s.key",
            r => KeyValuePair.Create(r.GetString(0), r.GetString(1)), cancel);
        return new SortedDictionary<string, string>(new Dictionary<string, string>(settings), StringComparer.Ordinal);
    }
}
