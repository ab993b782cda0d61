//! FTPS through the security profiles (`+USECMNG`, `+USECPRF`, `AT+UFTP=8,1,<id>`) against
//! vsftpd and proftpd with their test certificate (a self-signed certificate for localhost, 127.0.0.1 and
//! ::1): validation levels that pass and fail where they should, with the finer `+UFTPER` causes.

mod common;

use common::{AtHost, set_profile};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use tokio::io::AsyncWriteExt;
use ubx_modem::{Modem, ModemConfig};

async fn server_tls(kind: Kind) -> RunningServer {
    start(
        kind,
        ServerOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// Imports `pem` over the serial line as `<type>`, `<name>`; returns the answer line.
async fn import(host: &mut AtHost, kind: u8, name: &str, pem: &[u8]) -> String {
    host.cmd(
        &format!("AT+USECMNG=0,{kind},\"{name}\",{}", pem.len()),
        b">",
    )
    .await;
    host.io.write_all(pem).await.unwrap();
    host.read_until(b"\r\n\r\nOK\r\n").await
}

/// A root that has nothing to do with the server's certificate, and a client certificate and
/// key it signed.
fn other_pki() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Distinct names: with rcgen's one default name for both, OpenSSL takes the leaf for a
    // self-signed certificate and fails it.
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ubxftp test client CA");
    let issuer =
        rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client = rcgen::CertificateParams::new(vec!["device-1".to_string()]).unwrap();
    client.distinguished_name = rcgen::DistinguishedName::new();
    client
        .distinguished_name
        .push(rcgen::DnType::CommonName, "device-1");
    let client = client.signed_by(&client_key, &issuer).unwrap();
    (issuer.pem(), client.pem(), client_key.serialize_pem())
}

async fn login_result(host: &mut AtHost, server: &RunningServer, ftp8: &str) -> u32 {
    host.ok(ftp8).await;
    host.ok("AT+UFTPC=1").await;
    let line = host.urc_line(20).await;
    match line.trim() {
        "+UUFTPCR: 1,1" => 1,
        "+UUFTPCR: 1,0" => 0,
        other => panic!("unexpected {other:?} from {}", server.addr),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_levels_against_vsftpd() {
    validation_levels(Kind::Vsftpd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_levels_against_proftpd() {
    validation_levels(Kind::Proftpd).await;
}

async fn validation_levels(kind: Kind) {
    let server = server_tls(kind).await;
    server.put_file("hello.txt", b"Hello, FTPS!\n").unwrap();
    let pem = std::fs::read(server.cert_pem.as_ref().unwrap()).unwrap();
    let (other_root, client_cert, client_key) = other_pki();
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    assert!(
        import(&mut host, 0, "server", &pem)
            .await
            .starts_with("\r\n+USECMNG: 0,0,\"server\",\"")
    );
    assert!(
        import(&mut host, 0, "other", other_root.as_bytes())
            .await
            .contains("\"other\"")
    );
    assert!(
        import(&mut host, 1, "device", client_cert.as_bytes())
            .await
            .contains("\"device\"")
    );
    assert!(
        import(&mut host, 2, "device-key", client_key.as_bytes())
            .await
            .contains("\"device-key\"")
    );

    // Factory profile 0 of the default model (LEXI-R10): level 1 naming no root, so every
    // imported root is trusted, "server" among them; level 1 does not look at the name.
    host.cmd("AT+USECPRF=0,0", b"\r\n+USECPRF: 0,0,1\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USECPRF=0,3", b"\r\n+USECPRF: 0,3,\"\"\r\n\r\nOK\r\n")
        .await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1").await, 1);
    // Level 2 with the server's root: name 127.0.0.1 checked against its SANs.
    host.ok("AT+USECPRF=0,0,2").await;
    host.ok("AT+USECPRF=0,3,\"server\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 1);
    // Data connections resume the TLS session with validation on (vsftpd requires it).
    host.ftp("AT+UFTPC=4,\"hello.txt\",\"h.txt\"", 4, 1, 20)
        .await;
    assert_eq!(modem.filesystem().read("h.txt").unwrap(), b"Hello, FTPS!\n");
    host.send("AT+UFTPC=6,\"hello.txt\"").await;
    host.expect_within(
        b"\r\nCONNECT\r\nHello, FTPS!\n\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n",
        20,
    )
    .await;
    // Level 3 (dates too), with a client certificate presented (vsftpd does not ask for one).
    host.ok("AT+USECPRF=1,0,3").await;
    host.ok("AT+USECPRF=1,3,\"server\"").await;
    host.ok("AT+USECPRF=1,5,\"device\"").await;
    host.ok("AT+USECPRF=1,6,\"device-key\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,1").await, 1);

    // A root the server's certificate does not chain to: untrusted.
    host.ok("AT+USECPRF=2,0,1").await;
    host.ok("AT+USECPRF=2,3,\"other\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,2").await, 0);
    host.uftper(1, 16).await;
    // The right root, but the profile expects another host name.
    host.ok("AT+USECPRF=3,0,2").await;
    host.ok("AT+USECPRF=3,3,\"server\"").await;
    host.ok("AT+USECPRF=3,4,\"ftp.other.example\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,3").await, 0);
    host.uftper(1, 17).await;
    // Level 1 does not look at the name.
    host.ok("AT+USECPRF=3,0,1").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,3").await, 1);
    // A profile naming a root the store lacks, or one removed since: refused, never unchecked.
    host.ok("AT+USECPRF=4,0,1").await;
    host.ok("AT+USECPRF=4,3,\"missing\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,4").await, 0);
    host.uftper(1, 19).await;
    host.ok("AT+USECMNG=2,0,\"server\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 0);
    host.uftper(1, 19).await;
    // A cipher suite the server has (ECDHE-RSA-AES128-GCM-SHA256, legacy 32), and one it cannot
    // use with its RSA key (ECDHE-ECDSA-AES128-GCM-SHA256, legacy 30).
    host.ok("AT+USECPRF=2").await;
    // The reset profile is back at the factory level 1 naming no root: with the server's root
    // removed, only a foreign one is left to trust.
    host.cmd("AT+USECPRF=2,0", b"\r\n+USECPRF: 2,0,1\r\n\r\nOK\r\n")
        .await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,2").await, 0);
    host.uftper(1, 16).await;
    // The suites alone, without validation.
    host.ok("AT+USECPRF=2,0,0").await;
    host.ok("AT+USECPRF=2,2,32").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,2").await, 1);
    host.ok("AT+USECPRF=2,2,99,\"C0\",\"2B\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,2").await, 0);
    host.uftper(1, 6).await;
    // A profile id outside 0-4.
    host.cmd(
        "AT+UFTP=8,1,5",
        b"\r\n+CME ERROR: operation not supported\r\n",
    )
    .await;
}

/// The factory validation level is the model's (ubxlib's cellSecTlsSettings): LEXI-R10, SARA-R5
/// and LARA-R6 check the root CA, SARA-R4 and SARA-U201 check nothing. A profile at level 1
/// that names no root trusts every imported root; with none imported, the login is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_validation_level_is_the_models() {
    let server = server_tls(Kind::Vsftpd).await;
    let pem = std::fs::read(server.cert_pem.as_ref().unwrap()).unwrap();
    let (other_root, _, _) = other_pki();
    for (name, factory) in [
        ("lexi-r10", 1),
        ("sara-r5", 1),
        ("lara-r6", 1),
        ("sara-r4", 0),
        ("sara-u201", 0),
    ] {
        let model = ubx_modem::model::Model::by_name(name).unwrap();
        let modem = Modem::new(ModemConfig {
            model,
            ..ModemConfig::default()
        })
        .unwrap();
        let mut host = AtHost::connect(&modem).await;
        host.ok("AT+CMEE=2").await;
        let level = format!("\r\n+USECPRF: 0,0,{factory}\r\n\r\nOK\r\n");
        host.cmd("AT+USECPRF=0,0", level.as_bytes()).await;
        // `AT+USECPRF=<id>` restores the factory level too.
        host.ok("AT+USECPRF=0,0,3").await;
        host.ok("AT+USECPRF=0").await;
        host.cmd("AT+USECPRF=0,0", level.as_bytes()).await;
        if !model.pdp.default_bearer {
            // SARA-U201 has no bearer until a PSD profile is activated; its level is shown.
            continue;
        }
        if model.psd.style == ubx_modem::model::PsdStyle::MapToCid {
            // SARA-R5: FTP goes over PSD profile 0, mapped to cid 1.
            host.ok("AT+UPSD=0,100,1").await;
            host.ok("AT+UPSDA=0,3").await;
            let urc = host.urc_line(5).await;
            assert!(urc.starts_with("+UUPSDA: 0,"), "{urc}");
        }
        set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
        let login = login_result(&mut host, &server, "AT+UFTP=8,1").await;
        if factory == 0 {
            assert_eq!(login, 1, "{name}: no validation, no root needed");
            continue;
        }
        // Level 1, no root imported: refused, never unchecked.
        assert_eq!(login, 0, "{name}");
        host.uftper(1, 19).await;
        // Only a foreign root: untrusted.
        import(&mut host, 0, "other", other_root.as_bytes()).await;
        assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1").await, 0);
        host.uftper(1, 16).await;
        // The server's root beside it: every imported root is trusted.
        import(&mut host, 0, "server", &pem).await;
        assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1").await, 1);
    }
}

/// Runs `openssl` (a test dependency) in `dir`; its stdout.
fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A 1024-bit RSA key (`openssl genrsa 1024`) imports, bare and encrypted with PBES1
/// (`-v1 PBE-MD5-DES`), and both store the same DER; a wrong password is `incorrect password`.
/// rustls cannot sign with it, so a profile that presents it fails the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1024_bit_key_imports_bare_and_pbes1_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    openssl(path, &["genrsa", "-out", "k.pem", "1024"]);
    let plain = std::fs::read(path.join("k.pem")).unwrap();
    let encrypted = openssl(
        path,
        &[
            "pkcs8",
            "-topk8",
            "-v1",
            "PBE-MD5-DES",
            "-in",
            "k.pem",
            "-passout",
            "pass:xyz",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
    );
    // The key as PKCS#8 DER, what the store keeps (`pkey -outform DER` would write PKCS#1).
    openssl(
        path,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-outform", "DER", "-out", "k.der",
        ],
    );
    let md5 = String::from_utf8(openssl(path, &["dgst", "-md5", "-r", "k.der"])).unwrap();
    let md5 = md5.split_whitespace().next().unwrap().to_string();
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    let stored = |name: &str| format!("\r\n+USECMNG: 0,2,\"{name}\",\"{md5}\"\r\n\r\nOK\r\n");
    assert_eq!(import(&mut host, 2, "k1024", &plain).await, stored("k1024"));
    let command = |password: &str| {
        format!(
            "AT+USECMNG=0,2,\"k-enc\",{},\"{password}\"",
            encrypted.len()
        )
    };
    host.cmd(&command("xy"), b">").await;
    host.io.write_all(&encrypted).await.unwrap();
    host.expect(b"\r\n+CME ERROR: incorrect password\r\n").await;
    host.cmd(&command("xyz"), b">").await;
    host.io.write_all(&encrypted).await.unwrap();
    assert_eq!(host.read_until(b"\r\n\r\nOK\r\n").await, stored("k-enc"));

    // Presented as a client key: the TLS stack cannot sign with it, the login fails (1,6).
    let server = server_tls(Kind::Vsftpd).await;
    let (_, client_cert, _) = other_pki();
    import(&mut host, 1, "device", client_cert.as_bytes()).await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    host.ok("AT+USECPRF=1,0,0").await;
    host.ok("AT+USECPRF=1,5,\"device\"").await;
    host.ok("AT+USECPRF=1,6,\"k1024\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,1").await, 0);
    host.uftper(1, 6).await;
}

#[tokio::test]
async fn the_store_survives_a_restart_and_is_hidden_from_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _, _) = other_pki();
    let config = || ModemConfig {
        fs_dir: Some(dir.path().to_path_buf()),
        ..ModemConfig::default()
    };
    let md5 = {
        let modem = Modem::new(config()).unwrap();
        let mut host = AtHost::connect(&modem).await;
        import(&mut host, 0, "kept", root.as_bytes()).await
    };
    let modem = Modem::new(config()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.send("AT+USECMNG=4,0,\"kept\"").await;
    let line = host.read_until(b"\r\n\r\nOK\r\n").await;
    assert_eq!(line.replace("+USECMNG: 4,", "+USECMNG: 0,"), md5);
    host.cmd("AT+ULSTFILE=", b"\r\n+ULSTFILE: \r\n\r\nOK\r\n")
        .await;
}

#[tokio::test]
async fn the_seventeenth_item_is_refused() {
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    let (root, _, _) = other_pki();
    for i in 0..16 {
        assert!(
            import(&mut host, 0, &format!("r{i}"), root.as_bytes())
                .await
                .contains("+USECMNG: 0,0,")
        );
    }
    host.cmd(&format!("AT+USECMNG=0,0,\"r16\",{}", root.len()), b">")
        .await;
    host.io.write_all(root.as_bytes()).await.unwrap();
    host.expect(b"\r\n+CME ERROR: memory full\r\n").await;
    // Replacing an existing item is not a 17th.
    assert!(
        import(&mut host, 0, "r3", root.as_bytes())
            .await
            .contains("\"r3\"")
    );
}

/// vsftpd demanding a client certificate: the imported one is accepted; without one, or with
/// one from another authority, the login fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_demands_a_client_certificate_accepts_the_imported_one() {
    let (client_root, client_cert, client_key) = other_pki();
    let (_, stranger_cert, stranger_key) = other_pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("client-ca.pem");
    std::fs::write(&ca_file, &client_root).unwrap();
    let server = start(
        Kind::Vsftpd,
        ServerOptions {
            tls: true,
            client_ca_pem: Some(ca_file),
            ..Default::default()
        },
    )
    .await
    .expect("vsftpd");
    let pem = std::fs::read(server.cert_pem.as_ref().unwrap()).unwrap();
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    import(&mut host, 0, "server", &pem).await;
    import(&mut host, 1, "device", client_cert.as_bytes()).await;
    import(&mut host, 2, "device-key", client_key.as_bytes()).await;
    import(&mut host, 1, "stranger", stranger_cert.as_bytes()).await;
    import(&mut host, 2, "stranger-key", stranger_key.as_bytes()).await;
    // Without a client certificate: refused in the handshake.
    host.ok("AT+USECPRF=0,0,2").await;
    host.ok("AT+USECPRF=0,3,\"server\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 0);
    // With the device's certificate and key: in, and a transfer works.
    host.ok("AT+USECPRF=0,5,\"device\"").await;
    host.ok("AT+USECPRF=0,6,\"device-key\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 1);
    host.ok("AT+UFTPC=14").await;
    host.data_urc(14, 20).await;
    host.expect_within(b"\r\n+UUFTPCR: 14,1\r\n", 20).await;
    // A certificate from another authority: refused.
    host.ok("AT+USECPRF=0,5,\"stranger\"").await;
    host.ok("AT+USECPRF=0,6,\"stranger-key\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 0);
}

/// A host that stops inside the payload: after the 20 s stall timeout (paused clock) the
/// import fails and nothing is stored.
#[tokio::test(start_paused = true)]
async fn a_stall_inside_the_payload_stores_nothing() {
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    host.cmd("AT+USECMNG=0,0,\"slow\",100", b">").await;
    host.io.write_all(b"-----BEGIN CERT").await.unwrap();
    host.quiet(19_000).await;
    host.expect_within(b"\r\n+CME ERROR: FFS TIMEOUT\r\n", 5)
        .await;
    host.cmd("AT+USECMNG=3", b"\r\nOK\r\n").await;
}

/// A test PKI made with rcgen: a root and a leaf it signed for `names`, optionally expired.
/// Returns (root PEM, leaf PEM, leaf key PEM).
fn server_pki(names: &[&str], expired: bool) -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ubxftp test server CA");
    let issuer =
        rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    if expired {
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    (issuer.pem(), leaf.pem(), key.serialize_pem())
}

/// vsftpd serving a leaf of a test PKI; the module trusts that PKI's root.
async fn login_with_leaf(names: &[&str], expired: bool, checks: &[(u8, u32, Option<u32>)]) {
    let (root, leaf, key) = server_pki(names, expired);
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("leaf.pem"), dir.path().join("leaf.key"));
    std::fs::write(&cert_file, &leaf).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let server = start(
        Kind::Vsftpd,
        ServerOptions {
            tls: true,
            server_cert: Some((cert_file, key_file)),
            ..Default::default()
        },
    )
    .await
    .expect("vsftpd");
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    import(&mut host, 0, "pki", root.as_bytes()).await;
    host.ok("AT+USECPRF=0,3,\"pki\"").await;
    for &(level, result, code) in checks {
        host.ok(&format!("AT+USECPRF=0,0,{level}")).await;
        assert_eq!(
            login_result(&mut host, &server, "AT+UFTP=8,1,0").await,
            result,
            "{names:?} expired={expired} level {level}"
        );
        if let Some(code) = code {
            host.uftper(1, code).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_for_this_host_passes_every_level() {
    login_with_leaf(
        &["localhost", "127.0.0.1"],
        false,
        &[(1, 1, None), (2, 1, None), (3, 1, None)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_leaf_fails_level_3_only() {
    login_with_leaf(
        &["localhost", "127.0.0.1"],
        true,
        &[(3, 0, Some(18)), (2, 1, None), (1, 1, None)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_for_another_host_fails_from_level_2() {
    login_with_leaf(
        &["ftp.other.example"],
        false,
        &[(2, 0, Some(17)), (3, 0, Some(17)), (1, 1, None)],
    )
    .await;
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// A module with its file system in `dir`, and a terminal with verbose errors.
async fn module_in(dir: &std::path::Path) -> (Modem, AtHost) {
    let modem = Modem::new(ModemConfig {
        fs_dir: Some(dir.to_path_buf()),
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    (modem, host)
}

/// Symlinks and hard links planted in the store's folder (issue 20: they made an import
/// overwrite an outside file and `+USECMNG=4` print an outside file's MD5): no command reads,
/// replaces or removes through them, each answers `FILE NOT FOUND`, and the outside file keeps
/// its bytes and its mode.
#[tokio::test]
async fn planted_symlinks_and_hard_links_are_refused_and_the_outside_is_untouched() {
    use std::os::unix::fs::{MetadataExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let (root, _, _) = other_pki();
    let (linked_target, leak_target) = (outside.path().join("a"), outside.path().join("b"));
    std::fs::write(&linked_target, b"an outside file").unwrap();
    std::fs::write(&leak_target, b"another outside file").unwrap();
    let modes = (mode(&linked_target), mode(&leak_target));
    let (_modem, mut host) = module_in(dir.path()).await;
    import(&mut host, 0, "root", root.as_bytes()).await;
    let ca = dir.path().join(".ubxftp-security/CA");
    symlink(&leak_target, ca.join("leak")).unwrap();
    std::fs::hard_link(&linked_target, ca.join("linked")).unwrap();
    for name in ["leak", "linked"] {
        host.cmd(
            &format!("AT+USECMNG=4,0,\"{name}\""),
            b"\r\n+CME ERROR: FILE NOT FOUND\r\n",
        )
        .await;
        host.cmd(&format!("AT+USECMNG=0,0,\"{name}\",{}", root.len()), b">")
            .await;
        host.io.write_all(root.as_bytes()).await.unwrap();
        host.expect(b"\r\n+CME ERROR: FILE NOT FOUND\r\n").await;
        host.cmd(
            &format!("AT+USECMNG=2,0,\"{name}\""),
            b"\r\n+CME ERROR: FILE NOT FOUND\r\n",
        )
        .await;
    }
    host.send("AT+USECMNG=3").await;
    let list = host.read_until(b"\r\nOK\r\n").await;
    assert!(list.contains("\"CA\",\"root\""), "{list}");
    assert!(!list.contains("leak") && !list.contains("linked"), "{list}");
    assert_eq!(std::fs::read(&linked_target).unwrap(), b"an outside file");
    assert_eq!(
        std::fs::read(&leak_target).unwrap(),
        b"another outside file"
    );
    assert_eq!((mode(&linked_target), mode(&leak_target)), modes);
    assert_eq!(std::fs::metadata(&linked_target).unwrap().nlink(), 2);
    assert!(
        std::fs::symlink_metadata(ca.join("leak"))
            .unwrap()
            .is_symlink()
    );
}

/// Keys (and every item) are the owner's alone: 0600 in 0700 folders; a store left
/// world-readable by an older version is put right the next time it is opened.
#[tokio::test]
async fn items_are_0600_in_0700_folders_and_an_old_store_is_put_right() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (root, _, key) = other_pki();
    let (_modem, mut host) = module_in(dir.path()).await;
    import(&mut host, 2, "key", key.as_bytes()).await;
    import(&mut host, 0, "root", root.as_bytes()).await;
    let store = dir.path().join(".ubxftp-security");
    let paths = [
        (store.clone(), 0o700),
        (store.join("PK"), 0o700),
        (store.join("CA"), 0o700),
        (store.join("PK/key"), 0o600),
        (store.join("CA/root"), 0o600),
    ];
    for (path, expected) in &paths {
        assert_eq!(mode(path), *expected, "{}", path.display());
    }
    for (path, expected) in &paths {
        let old = if *expected == 0o700 { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(old)).unwrap();
    }
    host.send("AT+USECMNG=3").await;
    host.read_until(b"\r\nOK\r\n").await;
    for (path, expected) in &paths {
        assert_eq!(mode(path), *expected, "{}", path.display());
    }
}

/// `+USECPRF` op 2's suite bytes are exactly two hex digits: a sign (`"+1"` would have been
/// taken as 0x01, making `"13","+1"` TLS_AES_128_GCM_SHA256) is refused, the profile unchanged.
#[tokio::test]
async fn a_suite_byte_with_a_sign_is_refused() {
    let modem = Modem::new(ModemConfig::default()).unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    for bytes in [
        "\"13\",\"+1\"",
        "\"+7\",\"2F\"",
        "\"C0\",\"+F\"",
        "\"C0\",\"-1\"",
        "\"C0\",\" F\"",
        "\"C0\",\"F\"",
        "\"C0\",\"02F\"",
    ] {
        host.cmd(
            &format!("AT+USECPRF=0,2,99,{bytes}"),
            b"\r\n+CME ERROR: operation not supported\r\n",
        )
        .await;
    }
    host.cmd("AT+USECPRF=0,2", b"\r\n+USECPRF: 0,2,0\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+USECPRF=0,2,99,\"13\",\"01\"").await;
    host.ok("AT+USECPRF=0,2,100,\"c0\",\"2f\"").await;
    host.cmd(
        "AT+USECPRF=0,2",
        b"\r\n+USECPRF: 0,2,99,\"C0\",\"2F\"\r\n\r\nOK\r\n",
    )
    .await;
}

/// TLS reads the store through the same checked open: a root reached through a symlink or a
/// hard link, or a symlinked store folder, is a missing credential (`+UFTPER: 1,19`) — never
/// an outside file loaded as the root (here a root the server does chain to, so following it
/// would log in). The symlinked store refuses every `+USECMNG` command with `memory failure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_never_loads_a_root_through_a_symlink_a_hard_link_or_a_symlinked_store() {
    use std::os::unix::fs::symlink;
    use ubx_storage::certs::{Kind as Item, Store};
    let server = server_tls(Kind::Vsftpd).await;
    let pem = std::fs::read(server.cert_pem.as_ref().unwrap()).unwrap();
    let outside = tempfile::tempdir().unwrap();
    Store::beside(outside.path())
        .import(Item::RootCa, b"server", &pem, None)
        .unwrap();
    let outside_store = outside.path().join(".ubxftp-security");
    let outside_root = outside_store.join("CA/server");
    let outside_der = std::fs::read(&outside_root).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_modem, mut host) = module_in(dir.path()).await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    import(&mut host, 0, "server", &pem).await;
    host.ok("AT+USECPRF=0,0,1").await;
    host.ok("AT+USECPRF=0,3,\"server\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 1);
    let store = dir.path().join(".ubxftp-security");
    symlink(&outside_root, store.join("CA/leak")).unwrap();
    std::fs::hard_link(&outside_root, store.join("CA/linked")).unwrap();
    for name in ["leak", "linked"] {
        host.ok(&format!("AT+USECPRF=0,3,\"{name}\"")).await;
        assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 0);
        host.uftper(1, 19).await;
    }
    // The store folder itself a symlink to the outside store.
    std::fs::remove_dir_all(&store).unwrap();
    symlink(&outside_store, &store).unwrap();
    host.ok("AT+USECPRF=0,3,\"server\"").await;
    assert_eq!(login_result(&mut host, &server, "AT+UFTP=8,1,0").await, 0);
    host.uftper(1, 19).await;
    let refused = b"\r\n+CME ERROR: memory failure\r\n";
    host.cmd("AT+USECMNG=3", refused).await;
    host.cmd("AT+USECMNG=4,0,\"server\"", refused).await;
    host.cmd("AT+USECMNG=2,0,\"server\"", refused).await;
    host.cmd(&format!("AT+USECMNG=0,0,\"new\",{}", pem.len()), b">")
        .await;
    host.io.write_all(&pem).await.unwrap();
    host.expect(refused).await;
    assert_eq!(std::fs::read(&outside_root).unwrap(), outside_der);
    let mut outside_items: Vec<_> = std::fs::read_dir(outside_store.join("CA"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    outside_items.sort();
    assert_eq!(outside_items, ["server"]);
}
