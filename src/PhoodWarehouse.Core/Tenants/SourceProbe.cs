namespace PhoodWarehouse.Core.Tenants;

/// <summary>
/// Checks a tenant's source from inside the warehouse, through dblink and the tenant's foreign server,
/// exactly as the daily views reach it. Failures become errors that say what to fix.
/// </summary>
internal static class SourceProbe
{
    public static async Task CheckReachableAsync(NpgsqlConnection db, string connectionName, string tenant, CancellationToken cancel)
    {
        try
        {
            await ServerVersionAsync(db, connectionName, cancel);
        }
        catch (PostgresException error)
        {
            throw Translate(error, tenant);
        }
    }

    public static async Task<string?> ServerVersionAsync(NpgsqlConnection db, string connectionName, CancellationToken cancel) =>
        await Db.ScalarAsync<string>(db,
            "SELECT v FROM public.dblink(_wh.get_tenant_connection_string(@c), 'SELECT current_setting(''server_version'')') AS t(v text)",
            cancel, ("c", connectionName));

    /// <summary>Runs the template's source query for today with LIMIT 0 on the source: proves its tables and columns exist.</summary>
    public static async Task CheckTemplateTablesAsync(NpgsqlConnection db, string connectionName, string tenant, string template, CancellationToken cancel)
    {
        try
        {
            await Db.ExecuteAsync(db,
                """
                SELECT n FROM _wh.mv_templates,
                     public.dblink(_wh.get_tenant_connection_string(@c),
                       'SELECT count(*) FROM (SELECT * FROM (' || replace(replace(replace(query_template, '{TARGET_DATE}', current_date::text),
                                                    '{SCHEMA}', @s), '{VIEW_NAME}', @t) || ') AS probe LIMIT 0) AS nothing') AS t(n bigint)
                WHERE template_name = @t
                """,
                cancel, ("c", connectionName), ("s", tenant), ("t", template));
        }
        catch (PostgresException error)
        {
            var translated = Translate(error, tenant);
            if (translated.ErrorId != "SourceTablesMissing") throw translated;
            throw new WarehouseException("SourceTablesMissing", WhErrorKind.ObjectNotFound,
                $"The source database of tenant '{tenant}' lacks what template '{template}' reads: {error.MessageText}. " +
                "Check -SourceDatabase, or grant the source user SELECT on those tables.", tenant, error);
        }
    }

    /// <summary>
    /// A source that does not answer (libpq's connect_timeout or tcp_user_timeout ran out: the foreign server's bounds),
    /// as opposed to one that answered "no": its other days would wait as long again.
    /// </summary>
    public static bool IsNotAnswering(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
            if (e is PostgresException pg)
                return pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                       && ($"{pg.MessageText} {pg.Detail}".Contains("timeout expired", StringComparison.OrdinalIgnoreCase)
                           || $"{pg.MessageText} {pg.Detail}".Contains("timed out", StringComparison.OrdinalIgnoreCase));
        return false;
    }

    public static WarehouseException Translate(Exception error, string tenant)
    {
        if (error is PostgresException pg)
        {
            var detail = $"{pg.MessageText} {pg.Detail}".Trim();
            if (detail.Contains("password authentication failed", StringComparison.OrdinalIgnoreCase)
                || detail.Contains("no password supplied", StringComparison.OrdinalIgnoreCase)
                || detail.Contains("password is required", StringComparison.OrdinalIgnoreCase))
                return new WarehouseException("SourceLoginRefused", WhErrorKind.AuthenticationError,
                    $"The source of tenant '{tenant}' refused the login: {detail}. Check the user and password (-SourceCredential); Set-WhTenant changes them.", tenant, error);
            if (CertificateProblem(detail, tenant, error) is { } certificate)
                return certificate;
            if (IsNotAnswering(pg))
                return new WarehouseException("SourceNotAnswering", WhErrorKind.ConnectionError,
                    $"The source of tenant '{tenant}' does not answer: {detail}. Its server accepted no session within source_connect_timeout " +
                    "(_wh.warehouse_info, default 10 s) or its network path is gone: check that the source server runs and answers " +
                    "(psql from the warehouse host), then try again.", tenant, error);
            if (pg.SqlState.StartsWith("08", StringComparison.Ordinal))
                return new WarehouseException("SourceUnreachable", WhErrorKind.ConnectionError,
                    $"The warehouse cannot reach the source of tenant '{tenant}': {detail}. Check -SourceServer and -SourcePort, and that the warehouse host may connect to it.", tenant, error);
            if (pg.SqlState is "42P01" or "42703" or "3F000")
                return new WarehouseException("SourceTablesMissing", WhErrorKind.ObjectNotFound,
                    $"The source of tenant '{tenant}' lacks a table or column the template reads: {detail}.", tenant, error);
        }
        return DatabaseErrors.Translate(error, tenant);
    }

    /// <summary>
    /// libpq's certificate checks (sslmode verify-ca / verify-full) as what to fix: the host name the certificate is for, or
    /// the CA file (sslrootcert), which libpq opens on the warehouse server, not here. Null when the message is about neither.
    /// </summary>
    private static WarehouseException? CertificateProblem(string detail, string tenant, Exception error)
    {
        if (detail.Contains("does not match host name", StringComparison.OrdinalIgnoreCase)
            || (detail.Contains("server certificate for", StringComparison.OrdinalIgnoreCase)
                && detail.Contains("does not match", StringComparison.OrdinalIgnoreCase)))
            return new WarehouseException("SourceCertificateHostMismatch", WhErrorKind.ConnectionError,
                $"The source of tenant '{tenant}' presented a certificate whose host name does not match the server name: {detail}. " +
                "Check that -SourceServer is the name the certificate is issued for (with -SourceSslMode verify-full an IP address matches only " +
                "a certificate that lists it); Set-WhTenant changes it.", tenant, error);
        if (detail.Contains("root certificate file", StringComparison.OrdinalIgnoreCase))
            return new WarehouseException("SourceCertificateAuthorityUnreadable", WhErrorKind.ConnectionError,
                $"The warehouse server cannot read the CA file of tenant '{tenant}': {detail}. Check -SourceSslRootCert: it is a path on the " +
                "warehouse server (not this machine), and the server's OS user (postgres) must be able to read it; or check -SourceSslMode " +
                "(verify-ca and verify-full need a CA file).", tenant, error);
        if (detail.Contains("certificate verify failed", StringComparison.OrdinalIgnoreCase))
            return new WarehouseException("SourceCertificateUntrusted", WhErrorKind.ConnectionError,
                $"The source of tenant '{tenant}' presented a certificate the CA file does not vouch for: {detail}. Check -SourceSslRootCert " +
                "(a path on the warehouse server): it must hold the CA that issued the source's certificate; and check -SourceSslMode.", tenant, error);
        return null;
    }
}
