//! Certificate checks and client certificates, against a tiny **fake** FTPS server
//! written here (the shared scripted fake in `test-servers` speaks no TLS). It answers
//! `AUTH TLS`, runs the TLS handshake with certificates made by rcgen (a CA, leaves
//! with chosen names and validity dates), then plays a login. It is not a real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftp_client::{
    CertVerification, ConnectOptions, DataProtection, ErrorKind, FtpSession, StaticResolver,
    TlsOptions,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One scripted control connection of the fake server.
struct FakeConn<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> FakeConn<S> {
    fn new(io: S) -> Self {
        FakeConn {
            io: BufReader::new(io),
        }
    }

    async fn send(&mut self, text: &str) {
        let _ = self.io.get_mut().write_all(text.as_bytes()).await;
        let _ = self.io.get_mut().flush().await;
    }

    /// Reads a command and checks its verb.
    async fn expect(&mut self, verb: &str) -> String {
        let mut line = String::new();
        let _ = self.io.read_line(&mut line).await;
        let line = line.trim_end().to_string();
        assert!(
            line.starts_with(verb),
            "fake server expected {verb}, got {line:?}"
        );
        line
    }
}

fn opts(addr: SocketAddr) -> ConnectOptions {
    let mut o = ConnectOptions::new(addr.ip().to_string(), addr.port(), "u", "hunter2");
    o.timeouts.connect = Duration::from_secs(5);
    o.timeouts.reply = Duration::from_secs(5);
    o
}

struct Pki {
    ca_der: rustls::pki_types::CertificateDer<'static>,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// A CA and a leaf for `names`, optionally already expired.
fn pki(names: &[&str], expired: bool) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
    let mut leaf_params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    if expired {
        leaf_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf_params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
    Pki {
        ca_der: ca.der().clone(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    }
}

/// A fake FTPS server: AUTH TLS, then a login over TLS (if the client gets that far).
async fn fake_ftps(pki: &Pki) -> SocketAddr {
    fake_ftps_with_client_auth(pki, None).await
}

/// As [`fake_ftps`]; with `client_ca`, the server demands a client certificate from it.
async fn fake_ftps_with_client_auth(
    pki: &Pki,
    client_ca: Option<rustls::pki_types::CertificateDer<'static>>,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).expect("client ca");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .expect("server cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let mut c = FakeConn::new(tcp);
        c.send("220 fake tls\r\n").await;
        c.expect("AUTH TLS").await;
        c.send("234 go\r\n").await;
        let tcp = c.io.into_inner();
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let mut c = FakeConn::new(tls);
        c.expect("USER").await;
        c.send("230 in\r\n").await;
        c.expect("PBSZ 0").await;
        c.send("200 ok\r\n").await;
        c.expect("PROT C").await;
        c.send("200 ok\r\n").await;
        c.expect("TYPE I").await;
        c.send("200 ok\r\n").await;
    });
    addr
}

async fn try_tls(
    pki: &Pki,
    roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    verification: CertVerification,
    host: &str,
) -> Result<FtpSession, ftp_client::FtpError> {
    let addr = fake_ftps(pki).await;
    let mut o = opts(addr);
    o.host = host.into();
    o.resolver = Arc::new(StaticResolver::new().with(host, [addr.ip()]));
    o.tls = Some(TlsOptions {
        verification,
        roots,
        sni: Some(host.into()),
        data_protection: DataProtection::Clear,
        ..Default::default()
    });
    FtpSession::connect(o).await
}

#[tokio::test]
async fn certificate_modes() {
    let good = pki(&["ftp.test"], false);
    let expired = pki(&["ftp.test"], true);
    let stranger = pki(&["ftp.test"], false);
    let root = |p: &Pki| vec![p.ca_der.clone()];
    use CertVerification::*;

    // Everything right: every level passes.
    for mode in [None, Roots, RootsAndName, Full] {
        try_tls(&good, root(&good), mode, "ftp.test")
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
    // Wrong name: only the levels without a name check pass.
    for (mode, ok) in [
        (None, true),
        (Roots, true),
        (RootsAndName, false),
        (Full, false),
    ] {
        let r = try_tls(&good, root(&good), mode, "other.test").await;
        assert_eq!(r.is_ok(), ok, "{mode:?} wrong name: {r:?}");
        if let Err(e) = r {
            assert!(matches!(e.kind(), ErrorKind::Certificate(_)), "{e}");
        }
    }
    // Expired: only the full check refuses.
    for (mode, ok) in [
        (None, true),
        (Roots, true),
        (RootsAndName, true),
        (Full, false),
    ] {
        let r = try_tls(&expired, root(&expired), mode, "ftp.test").await;
        assert_eq!(r.is_ok(), ok, "{mode:?} expired: {r:?}");
    }
    // Unknown issuer: only "no check" passes.
    for (mode, ok) in [
        (None, true),
        (Roots, false),
        (RootsAndName, false),
        (Full, false),
    ] {
        let r = try_tls(&stranger, root(&good), mode, "ftp.test").await;
        assert_eq!(r.is_ok(), ok, "{mode:?} unknown issuer: {r:?}");
    }
}

#[tokio::test]
async fn client_certificate_is_presented_when_configured() {
    let server_pki = pki(&["ftp.test"], false);
    // A client CA and a client certificate signed by it.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca =
        rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("key"))
            .expect("ca");
    let client_key = rcgen::KeyPair::generate().expect("key");
    let client_cert = rcgen::CertificateParams::new(vec!["device-1".to_string()])
        .expect("params")
        .signed_by(&client_key, &ca)
        .expect("client cert");

    for with_identity in [true, false] {
        let addr = fake_ftps_with_client_auth(&server_pki, Some(ca.der().clone())).await;
        let mut o = opts(addr);
        o.tls = Some(TlsOptions {
            verification: CertVerification::Full,
            roots: vec![server_pki.ca_der.clone()],
            expected_name: Some("ftp.test".into()),
            data_protection: DataProtection::Clear,
            client_identity: with_identity.then(|| ftp_client::ClientIdentity {
                cert_chain_pem: client_cert.pem().into_bytes(),
                key_pem: client_key.serialize_pem().into_bytes(),
            }),
            ..Default::default()
        });
        let shown = format!("{o:?}");
        assert!(!shown.contains("PRIVATE KEY"), "key in Debug output");
        let result = FtpSession::connect(o).await;
        assert_eq!(
            result.is_ok(),
            with_identity,
            "identity {with_identity}: {result:?}"
        );
    }
}
