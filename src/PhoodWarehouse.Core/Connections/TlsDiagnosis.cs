using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PhoodWarehouse.Core.Connections;

/// <summary>
/// Which check a rejected server certificate failed. Npgsql reports a wrong host name and a wrong CA alike (its own
/// validation callback "rejected" the certificate), so after such a failure one more connection attempt looks at the
/// certificate itself: is it issued for the host asked for, and does it chain to the CA given (the root certificate
/// file) or else to this machine's store. It never gets past the TLS handshake: the callback rejects every certificate.
/// </summary>
internal static class TlsDiagnosis
{
    public static async Task<SslPolicyErrors?> ProbeAsync(NpgsqlConnectionStringBuilder settings, CancellationToken cancel)
    {
        SslPolicyErrors? seen = null;
        var rootFile = settings.RootCertificate;
        var probe = new NpgsqlConnectionStringBuilder(settings.ConnectionString)
        {
            // Require: the callback alone decides (Npgsql refuses a callback beside a root certificate file).
            Pooling = false, RootCertificate = null, SslMode = SslMode.Require, Password = null,
        };
        var builder = new NpgsqlDataSourceBuilder(probe.ConnectionString);
        builder.UseUserCertificateValidationCallback((_, certificate, _, errors) =>
        {
            if (certificate is not null && rootFile is not null && File.Exists(rootFile))
                errors = ChainsTo(certificate, rootFile)
                    ? errors & ~SslPolicyErrors.RemoteCertificateChainErrors
                    : errors | SslPolicyErrors.RemoteCertificateChainErrors;
            seen = errors;
            return false;
        });
        await using var dataSource = builder.Build();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancel);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // Expected: the callback refuses. What it saw is the answer.
        }
        return seen;
    }

    private static bool ChainsTo(X509Certificate certificate, string rootFile)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(rootFile);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var server = new X509Certificate2(certificate);
        return chain.Build(server);
    }
}
