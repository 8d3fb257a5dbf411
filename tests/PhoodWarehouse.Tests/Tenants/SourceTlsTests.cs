namespace PhoodWarehouse.Tests.Tenants;

/// <summary>
/// A source that accepts TLS only, with a certificate from a CA of the test's own: -SourceSslRootCert (a path on the
/// warehouse server, read by its server process as dblink connects) with verify-full and verify-ca, channel binding,
/// and the errors a wrong host name or a wrong CA give. The CA file is written where the postgres OS user reads it.
/// </summary>
[Collection(WarehouseCollection.Name)]
public sealed class SourceTlsTests(PostgresServer server)
{
    [Fact]
    public async Task A_TLS_only_source_is_verified_against_the_tenants_own_CA_file()
    {
        using var tls = TlsFiles.Create();
        using var cluster = tls.StartTlsOnlyCluster();
        var socket = tls.SocketConnectionString(cluster);

        var today = WarehouseClock.ServerToday(server.ConnectionString());
        var spec = new SampleTenantSourceSpec
        {
            Database = "tls_src", ReaderUser = "tls_reader", ReaderPassword = PostgresServer.SourceReaderPassword,
            FirstDay = today.AddDays(-2), Days = 3, RowsPerDay = 20,
        };
        await SampleTenantSource.CreateAsync(socket, spec);

        using var wh = await WarehouseScenario.StartAsync(server);
        Dictionary<string, object?> Variables(string host, string ca) => new()
        {
            ["h"] = host, ["p"] = cluster.Port, ["d"] = spec.Database, ["ca"] = ca,
            ["c"] = WarehouseScenario.Credential(spec.ReaderUser, spec.ReaderPassword),
        };
        const string add = "New-WhTenant -Name {0} -SourceServer $h -SourcePort $p -SourceDatabase $d -SourceCredential $c -Template foodlogstats -SourceSslRootCert $ca {1}";

        // verify-full: certificate from the CA and issued for localhost; a day loads through it.
        var full = wh.Run(string.Format(add, "tls_full", "-SourceSslMode verify-full"), Variables("localhost", tls.CaCert));
        Assert.True(full.Succeeded, string.Join("; ", full.AllErrors));
        Assert.Equal(tls.CaCert, full.All<WhTenant>().Single().SourceSslRootCert);
        var loaded = wh.Run("Invoke-WhMvBackfill -Tenant tls_full -Template foodlogstats -From $WarehouseToday -To $WarehouseToday");
        Assert.True(loaded.Succeeded, string.Join("; ", loaded.AllErrors));
        var day = loaded.All<WhMvResult>().Single();
        Assert.Equal(MvAction.Created, day.Action);
        Assert.True(day.Rows > 0, $"no rows loaded: {day.Rows}");
        Assert.Contains($"sslrootcert={tls.CaCert}",
            await wh.ScalarAsync<string>("SELECT array_to_string(srvoptions, ' ') FROM pg_foreign_server WHERE srvname = 'wh_tls_full'"));

        // verify-ca and channel binding.
        var ca = wh.Run(string.Format(add, "tls_ca", "-SourceSslMode verify-ca"), Variables("127.0.0.1", tls.CaCert));
        Assert.True(ca.Succeeded, string.Join("; ", ca.AllErrors));
        var bound = wh.Run(string.Format(add, "tls_cb", "-SourceSslMode verify-full -SourceChannelBinding require"), Variables("localhost", tls.CaCert));
        Assert.True(bound.Succeeded, string.Join("; ", bound.AllErrors));

        var listed = wh.Run("Get-WhTenant tls_*").All<WhTenant>();
        Assert.Equal(["tls_ca", "tls_cb", "tls_full"], listed.Select(t => t.Name));
        Assert.All(listed, t => Assert.Equal(tls.CaCert, t.SourceSslRootCert));

        // Errors say which part to fix, and leave nothing behind.
        var before = await wh.SnapshotAsync();
        var mismatch = wh.Run(string.Format(add, "tls_ip", "-SourceSslMode verify-full"), Variables("127.0.0.1", tls.CaCert));
        var hostError = mismatch.AssertError("SourceCertificateHostMismatch").ToString();
        Assert.Contains("does not match host name", hostError);
        Assert.Contains("-SourceServer", hostError);

        var wrong = wh.Run(string.Format(add, "tls_wrong", "-SourceSslMode verify-full"), Variables("localhost", tls.OtherCaCert));
        var caError = wrong.AssertError("SourceCertificateUntrusted").ToString();
        Assert.Contains("-SourceSslRootCert", caError);

        var missing = wh.Run(string.Format(add, "tls_missing", "-SourceSslMode verify-full"), Variables("localhost", tls.CaCert + ".missing"));
        var missingError = missing.AssertError("SourceCertificateAuthorityUnreadable").ToString();
        Assert.Contains("-SourceSslRootCert", missingError);
        Assert.Contains("warehouse server", missingError);

        var relative = wh.Run(string.Format(add, "tls_rel", "-SourceSslMode verify-full"), Variables("localhost", "ca.crt"));
        Assert.False(relative.Succeeded);
        Assert.Contains("not an absolute path", string.Join("; ", relative.AllErrors));
        Assert.Equal(before, await wh.SnapshotAsync());

        // Another CA file is another source: the stored password does not follow it without a new credential.
        var moved = wh.Run("Set-WhTenant tls_full -SourceSslRootCert $ca", Variables("localhost", tls.OtherCaCert));
        moved.AssertError("SourcePasswordRequired");
        Assert.Equal(before, await wh.SnapshotAsync());

        var path = Path.Combine(tls.Folder, "config.json");
        var exported = wh.Run("Export-WhConfiguration -Path $f", new Dictionary<string, object?> { ["f"] = path });
        Assert.True(exported.Succeeded, string.Join("; ", exported.AllErrors));
        Assert.Contains(tls.CaCert, File.ReadAllText(path));
    }

    [Fact]
    public void Connect_WhWarehouse_reaches_a_TLS_only_warehouse_with_VerifyFull_and_names_a_wrong_host_or_CA()
    {
        using var tls = TlsFiles.Create();
        using var cluster = tls.StartTlsOnlyCluster();
        using var shell = new HostedPowerShell();
        var variables = new Dictionary<string, object?>
        {
            ["p"] = cluster.Port, ["ca"] = tls.CaCert, ["other"] = tls.OtherCaCert,
            ["c"] = WarehouseScenario.Credential(cluster.Superuser, cluster.SuperuserPassword),
        };
        const string connect = "Connect-WhWarehouse -Server {0} -Port $p -Database postgres -Credential $c -SslMode VerifyFull -RootCertificate {1} -NoDefault";
        var ok = shell.Run(string.Format(connect, "localhost", "$ca"), variables);
        Assert.True(ok.Succeeded, string.Join("; ", ok.AllErrors));
        Assert.Equal("postgres", ok.Single<WhConnection>().Database);

        var wrongHost = shell.Run(string.Format(connect, "127.0.0.1", "$ca"), variables);
        wrongHost.AssertError("CertificateHostMismatch");
        Assert.Contains("host name", wrongHost.FirstError!.ToString());
        var wrongCa = shell.Run(string.Format(connect, "localhost", "$other"), variables);
        wrongCa.AssertError("CertificateUntrusted");
        Assert.Contains("-RootCertificate", wrongCa.FirstError!.ToString());
        Assert.DoesNotContain("host name", wrongCa.FirstError!.ToString());
    }
}
