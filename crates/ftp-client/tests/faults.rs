//! Faults real servers cannot be made to produce on demand, from a scripted fake FTP
//! server written in this file (named as such: it is NOT a real server). Each test
//! scripts one dialogue: what the fake answers to each command.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftp_client::{
    CertVerification, ConnectOptions, DataProtection, ErrorKind, FtpSession, StaticResolver,
    TimeoutKind, TlsOptions,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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

    /// Reads one command line ("" on EOF).
    async fn cmd(&mut self) -> String {
        let mut line = String::new();
        let _ = self.io.read_line(&mut line).await;
        line.trim_end().to_string()
    }

    /// Reads a command and checks its verb.
    async fn expect(&mut self, verb: &str) -> String {
        let line = self.cmd().await;
        assert!(
            line.starts_with(verb),
            "fake server expected {verb}, got {line:?}"
        );
        line
    }

    /// Greeting + plain login + TYPE I.
    async fn login(&mut self) {
        self.send("220 fake ready\r\n").await;
        self.expect("USER").await;
        self.send("331 password\r\n").await;
        self.expect("PASS").await;
        self.send("230 in\r\n").await;
        self.expect("TYPE I").await;
        self.send("200 binary\r\n").await;
    }
}

/// Starts a fake server that runs `script` on its first connection.
async fn fake<F, Fut>(script: F) -> SocketAddr
where
    F: FnOnce(FakeConn<TcpStream>, TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let data = TcpListener::bind("127.0.0.1:0").await.expect("bind data");
        script(FakeConn::new(stream), data).await;
    });
    addr
}

fn opts(addr: SocketAddr) -> ConnectOptions {
    let mut o = ConnectOptions::new(addr.ip().to_string(), addr.port(), "u", "hunter2");
    o.timeouts.connect = Duration::from_secs(5);
    o.timeouts.reply = Duration::from_secs(5);
    o.timeouts.data_stall = Some(Duration::from_secs(5));
    o
}

fn pasv_reply(host: [u8; 4], port: u16) -> String {
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{})\r\n",
        host[0],
        host[1],
        host[2],
        host[3],
        port >> 8,
        port & 0xff
    )
}

#[tokio::test]
async fn pasv_address_is_ignored_in_favour_of_the_control_peer() {
    let addr = fake(|mut c, data| async move {
        c.login().await;
        c.expect("PASV").await;
        let port = data.local_addr().expect("addr").port();
        // Names a foreign host: a client honouring it would connect to 10.255.255.1.
        c.send(&pasv_reply([10, 255, 255, 1], port)).await;
        c.expect("RETR x").await;
        c.send("150 here\r\n").await;
        let (mut d, _) = data.accept().await.expect("data accept");
        d.write_all(b"payload").await.expect("write");
        drop(d);
        c.send("226 done\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    let mut s = FtpSession::connect(opts(addr)).await.expect("connect");
    let mut got = Vec::new();
    s.retrieve_to("x", 0, &mut got, &mut |_| {})
        .await
        .expect("RETR");
    assert_eq!(got, b"payload");
    s.quit().await.expect("QUIT");
}

#[tokio::test]
async fn pasv_refused_falls_back_to_epsv() {
    let addr = fake(|mut c, data| async move {
        c.login().await;
        c.expect("PASV").await;
        c.send("502 no PASV here\r\n").await;
        c.expect("EPSV").await;
        let port = data.local_addr().expect("addr").port();
        c.send(&format!("229 Extended (|||{port}|)\r\n")).await;
        c.expect("NLST").await;
        c.send("150 list\r\n").await;
        let (mut d, _) = data.accept().await.expect("accept");
        d.write_all(b"a\r\nb\r\n").await.expect("write");
        drop(d);
        c.send("226 ok\r\n").await;
    })
    .await;
    let mut s = FtpSession::connect(opts(addr)).await.expect("connect");
    let l = s.nlst(None).await.expect("NLST");
    assert_eq!(l.data, b"a\r\nb\r\n");
}

#[tokio::test]
async fn account_is_sent_when_the_server_asks_with_332() {
    let addr = fake(|mut c, _| async move {
        c.send("220 fake\r\n").await;
        c.expect("USER").await;
        c.send("331 pass\r\n").await;
        c.expect("PASS").await;
        c.send("332 need account\r\n").await;
        assert_eq!(c.expect("ACCT").await, "ACCT acme");
        c.send("230 ok\r\n").await;
        c.expect("TYPE I").await;
        c.send("200 ok\r\n").await;
    })
    .await;
    let mut o = opts(addr);
    o.account = Some("acme".into());
    FtpSession::connect(o).await.expect("login with ACCT");

    let addr = fake(|mut c, _| async move {
        c.send("220 fake\r\n").await;
        c.expect("USER").await;
        c.send("331 pass\r\n").await;
        c.expect("PASS").await;
        c.send("332 need account\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    let err = FtpSession::connect(opts(addr))
        .await
        .expect_err("no account");
    assert_eq!(err.reply_code(), Some(332));
}

#[tokio::test]
async fn unknown_reply_codes_are_kept_exactly() {
    let addr = fake(|mut c, data| async move {
        c.login().await;
        c.expect("PASV").await;
        c.send(&pasv_reply(
            [127, 0, 0, 1],
            data.local_addr().expect("a").port(),
        ))
        .await;
        c.expect("RETR").await;
        c.send("150 go\r\n").await;
        let (d, _) = data.accept().await.expect("accept");
        drop(d);
        c.send("522 SSL connection failed: session reuse required\r\n")
            .await;
        c.expect("NOOP").await;
        c.send("534 policy\r\n").await;
        c.expect("NOOP").await;
        c.send("299 odd but positive\r\n").await;
    })
    .await;
    let mut s = FtpSession::connect(opts(addr)).await.expect("connect");
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("522");
    assert_eq!(err.reply_code(), Some(522));
    assert_eq!(
        err.reply().map(|r| r.message().to_string()).as_deref(),
        Some("SSL connection failed: session reuse required")
    );
    assert!(!err.session_closed());
    let err = s.noop().await.expect_err("534");
    assert_eq!(err.reply_code(), Some(534));
    let err = s.noop().await.expect_err("299 is not NOOP's 200");
    assert_eq!(err.reply_code(), Some(299));
}

#[tokio::test]
async fn service_closing_421_closes_the_session() {
    let addr = fake(|mut c, _| async move {
        c.login().await;
        c.expect("PWD").await;
        c.send("421 Timeout.\r\n").await;
    })
    .await;
    let mut s = FtpSession::connect(opts(addr)).await.expect("connect");
    let err = s.pwd().await.expect_err("421");
    assert_eq!(err.reply_code(), Some(421));
    assert!(err.session_closed() && s.is_closed());
    let err = s.noop().await.expect_err("closed");
    assert!(matches!(err.kind(), ErrorKind::Closed(_)));
}

#[tokio::test]
async fn garbage_greeting_and_oversized_replies_are_protocol_errors() {
    let addr = fake(|mut c, _| async move {
        c.send("HTTP/1.1 400 Bad Request\r\n\r\n").await;
    })
    .await;
    let err = FtpSession::connect(opts(addr)).await.expect_err("garbage");
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err}");

    let addr = fake(|mut c, _| async move {
        c.send("220-").await;
        let chunk = "x".repeat(1024);
        for _ in 0..100 {
            c.send(&chunk).await;
        }
        c.send("\r\n220 end\r\n").await;
    })
    .await;
    let mut o = opts(addr);
    o.limits.max_reply_bytes = 4096;
    let err = FtpSession::connect(o).await.expect_err("too long");
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err}");
}

#[tokio::test]
async fn silent_server_times_out_and_closes_the_session() {
    let addr = fake(|mut c, _| async move {
        c.login().await;
        c.expect("NOOP").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let mut o = opts(addr);
    o.timeouts.reply = Duration::from_millis(300);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let err = s.noop().await.expect_err("timeout");
    assert!(err.is_timeout(TimeoutKind::Reply), "{err}");
    assert!(err.session_closed());
}

#[tokio::test]
async fn stalled_data_connection_times_out() {
    let addr = fake(|mut c, data| async move {
        c.login().await;
        c.expect("PASV").await;
        c.send(&pasv_reply(
            [127, 0, 0, 1],
            data.local_addr().expect("a").port(),
        ))
        .await;
        c.expect("RETR").await;
        c.send("150 go\r\n").await;
        let (mut d, _) = data.accept().await.expect("accept");
        d.write_all(&[1u8; 1000]).await.expect("write");
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(d);
    })
    .await;
    let mut o = opts(addr);
    o.timeouts.data_stall = Some(Duration::from_millis(300));
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut sink = Vec::new();
    let mut seen = 0;
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |n| seen = n)
        .await
        .expect_err("stall");
    assert!(err.is_timeout(TimeoutKind::DataStall), "{err}");
    assert_eq!(seen, 1000);
}

#[tokio::test]
async fn active_mode_refuses_connections_from_other_addresses() {
    // The control connection comes from 127.0.0.1; a data connection from 127.0.0.2 must
    // be ignored, the one from 127.0.0.1 accepted.
    let addr = fake(|mut c, _| async move {
        c.login().await;
        let port_cmd = c.expect("PORT").await;
        let nums: Vec<u16> = port_cmd[5..]
            .split(',')
            .map(|n| n.parse().expect("num"))
            .collect();
        let target = SocketAddr::from(([127, 0, 0, 1], nums[4] * 256 + nums[5]));
        c.send("200 PORT ok\r\n").await;
        c.expect("RETR").await;
        c.send("150 connecting\r\n").await;
        let foreign = tokio::net::TcpSocket::new_v4().expect("socket");
        foreign
            .bind("127.0.0.2:0".parse().expect("addr"))
            .expect("bind 127.0.0.2");
        let mut intruder = foreign.connect(target).await.expect("intruder connect");
        let _ = intruder.write_all(b"EVIL").await;
        let mut d = TcpStream::connect(target).await.expect("data connect");
        d.write_all(b"good").await.expect("write");
        drop(d);
        c.send("226 done\r\n").await;
    })
    .await;
    let mut o = opts(addr);
    o.data_mode = ftp_client::DataMode::Active { ports: None };
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut got = Vec::new();
    s.retrieve_to("f", 0, &mut got, &mut |_| {})
        .await
        .expect("RETR");
    assert_eq!(got, b"good");
}

#[tokio::test]
async fn host_names_go_through_the_injected_resolver() {
    let addr = fake(|mut c, _| async move {
        c.login().await;
    })
    .await;
    let mut o = opts(addr);
    o.host = "ftp.example.invalid".into();
    o.resolver = Arc::new(StaticResolver::new().with("ftp.example.invalid", [addr.ip()]));
    FtpSession::connect(o)
        .await
        .expect("connect via static resolver");

    let mut o = opts(addr);
    o.host = "unknown.example.invalid".into();
    o.resolver = Arc::new(StaticResolver::new());
    let err = FtpSession::connect(o).await.expect_err("unresolvable");
    assert!(matches!(err.kind(), ErrorKind::Resolve { .. }), "{err}");

    let mut o = opts(addr);
    o.ip_preference = ftp_client::IpPreference::V6Only;
    let err = FtpSession::connect(o).await.expect_err("no v6 address");
    assert!(matches!(err.kind(), ErrorKind::NoAddress { .. }), "{err}");
}

#[tokio::test]
async fn refused_connection_is_reported_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = FtpSession::connect(opts(addr)).await.expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::ConnectRefused(a) if *a == addr),
        "{err}"
    );
}

// ---- Random replies: whatever the server says, the client returns, never panics. ----

/// xorshift: deterministic pseudo-random numbers without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn reply(&mut self) -> Vec<u8> {
        const CANNED: &[&str] = &[
            "220 hi\r\n",
            "331 pass\r\n",
            "230 ok\r\n",
            "200 ok\r\n",
            "150 go\r\n",
            "226 done\r\n",
            "227 (127,0,0,1,0,1)\r\n",
            "229 (|||1|)\r\n",
            "257 \"/\"\r\n",
            "421 bye\r\n",
            "550 no\r\n",
            "332 acct\r\n",
            "213 12\r\n",
            "250-x\r\n 1\r\n250 e\r\n",
            "211-\r\n",
            "999 x\r\n",
            "\r\n",
            "2",
            "20",
            "200-",
            "ftp\r\n",
            "234 tls\r\n",
        ];
        match self.next() % 3 {
            0 => {
                let len = (self.next() % 40) as usize;
                (0..len).map(|_| self.next() as u8).collect()
            }
            _ => CANNED[(self.next() % CANNED.len() as u64) as usize]
                .as_bytes()
                .to_vec(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_replies_never_panic() {
    for seed in 1..=300u64 {
        let addr = fake(move |mut c, _| async move {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            c.send(&String::from_utf8_lossy(&rng.reply())).await;
            let _ = c.io.get_mut().write_all(&rng.reply()).await;
            for _ in 0..30 {
                if c.cmd().await.is_empty() {
                    return;
                }
                let reply = rng.reply();
                let _ = c.io.get_mut().write_all(&reply).await;
                if rng.next().is_multiple_of(7) {
                    let _ = c.io.get_mut().write_all(&rng.reply()).await;
                }
            }
        })
        .await;
        let mut o = opts(addr);
        o.timeouts.reply = Duration::from_millis(150);
        o.timeouts.connect = Duration::from_millis(300);
        o.timeouts.data_stall = Some(Duration::from_millis(150));
        o.account = Some("a".into());
        if let Ok(mut s) = FtpSession::connect(o).await {
            let _ = s.pwd().await;
            let _ = s.nlst(None).await;
            let mut sink = Vec::new();
            let _ = s.retrieve_to("f", 5, &mut sink, &mut |_| {}).await;
            let _ = s.size("f").await;
            let _ = s.mlst(Some("f")).await;
            let _ = s.mdtm("f").await;
            let _ = s.rename("a", "b").await;
            let _ = s.quit().await;
        }
    }
}

// ---- Certificate checks, with a fake FTPS server and rcgen-made certificates. ----

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
    fake(|mut c, _| async move {
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
    })
    .await
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
async fn active_mode_server_giving_up_is_reported_with_its_reply() {
    let addr = fake(|mut c, _| async move {
        c.login().await;
        c.expect("PORT").await;
        c.send("200 PORT ok\r\n").await;
        c.expect("RETR").await;
        c.send("150 connecting\r\n").await;
        c.send("425 Can't open data connection.\r\n").await;
        c.expect("NOOP").await;
        c.send("200 still here\r\n").await;
    })
    .await;
    let mut o = opts(addr);
    o.data_mode = ftp_client::DataMode::Active { ports: None };
    o.timeouts.connect = Duration::from_secs(30);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("425");
    assert_eq!(err.reply_code(), Some(425), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the accept timeout"
    );
    s.noop().await.expect("control still in step");
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

/// Collects everything the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn password_never_reaches_traces_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let addr = fake(|mut c, _| async move {
        c.send("220 fake\r\n").await;
        c.expect("USER").await;
        c.send("331 pass\r\n").await;
        c.expect("PASS").await;
        c.send("530 Login incorrect.\r\n").await;
    })
    .await;
    let err = FtpSession::connect(opts(addr)).await.expect_err("530");
    assert_eq!(err.reply_code(), Some(530));
    let logs = String::from_utf8_lossy(&capture.0.lock().expect("lock")).to_string();
    assert!(
        logs.contains("PASS ****"),
        "trace should show the masked command: {logs}"
    );
    assert!(!logs.contains("hunter2"), "password in traces: {logs}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}
