namespace PhoodWarehouse.Tests.Infrastructure;

/// <summary>A CA, a server certificate for localhost from it, and a second, unrelated CA; in a folder the postgres OS user owns.</summary>
public sealed class TlsFiles : IDisposable
{
    public required string Folder { get; init; }
    public string CaCert => Path.Combine(Folder, "ca.crt");
    public string OtherCaCert => Path.Combine(Folder, "other-ca.crt");
    public string ServerCert => Path.Combine(Folder, "server.crt");
    public string ServerKey => Path.Combine(Folder, "server.key");

    public static TlsFiles Create()
    {
        var folder = Path.Combine(Path.GetTempPath(), "phood-tls-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var files = new TlsFiles { Folder = folder };
        try
        {
            const string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
            foreach (var name in new[] { "ca", "other-ca" })
                OpenSsl(folder, $"req -x509 {ec} -keyout {name}.key -out {name}.crt -days 2 -subj /CN=phood-test-{name} " +
                    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
            OpenSsl(folder, $"req {ec} -keyout server.key -out server.csr -subj /CN=localhost");
            File.WriteAllText(Path.Combine(folder, "server.ext"),
                "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
            OpenSsl(folder, "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext");
            if (Environment.IsPrivilegedProcess)
            {
                // The clusters run as postgres: the source reads its key, the warehouse's dblink reads the CA files.
                Run("chown", $"-R postgres:postgres {folder}", folder);
                Run("chmod", "755 .", folder);
            }
            File.SetUnixFileMode(Path.Combine(folder, "server.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return files;
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    private static void OpenSsl(string folder, string arguments) => Run("openssl", arguments, folder);

    private static void Run(string program, string arguments, string folder) =>
        TestProgram.Run(program, arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), folder).Succeeded($"{program} {arguments}");

    /// <summary>A throwaway cluster that accepts TLS only over TCP (hostssl, this folder's server certificate); its superuser keeps the socket.</summary>
    public LocalPostgresCluster StartTlsOnlyCluster()
    {
        var cluster = LocalPostgresCluster.Start(new LocalClusterOptions
        {
            PreloadPgCron = false,
            ExtraSettings = ["ssl = on", $"ssl_cert_file = '{ServerCert}'", $"ssl_key_file = '{ServerKey}'"],
        });
        var hba = Path.Combine(cluster.DataDirectory, "pg_hba.conf");
        var local = File.ReadAllLines(hba).Where(l => l.TrimStart().StartsWith("local", StringComparison.Ordinal));
        File.WriteAllLines(hba, local.Append("hostssl all all 127.0.0.1/32 scram-sha-256"));
        using var admin = new NpgsqlConnection(SocketConnectionString(cluster));
        admin.Open();
        using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", admin);
        reload.ExecuteNonQuery();
        return cluster;
    }

    /// <summary>The superuser over the cluster's socket (trust), not pooled.</summary>
    public string SocketConnectionString(LocalPostgresCluster cluster) => new NpgsqlConnectionStringBuilder
    {
        Host = cluster.SocketDirectory, Port = cluster.Port, Username = cluster.Superuser, Database = "postgres", Pooling = false,
    }.ConnectionString;

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
