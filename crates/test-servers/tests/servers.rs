//! Every real server: starts, greets, logs in, stores and retrieves over passive (EPSV) and
//! active (PORT/EPRT) data connections, answers `AUTH TLS` with 234 in TLS mode, runs on ::1,
//! and runs twice at once. A missing server binary fails these tests (never skips).

use std::net::{IpAddr, SocketAddr};

mod common;

use common::{Control, T};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

fn epsv_port(text: &str) -> u16 {
    let inner = text.split("(|||").nth(1).expect("EPSV reply");
    inner
        .split('|')
        .next()
        .expect("port")
        .parse()
        .expect("port number")
}

async fn epsv_data(c: &mut Control, ip: IpAddr) -> TcpStream {
    let text = c.expect("EPSV", 229).await;
    let port = epsv_port(&text);
    timeout(T, TcpStream::connect(SocketAddr::new(ip, port)))
        .await
        .expect("data timeout")
        .expect("data connect")
}

/// Open an active-mode listener and announce it with PORT (IPv4) or EPRT (IPv6).
async fn active_listener(c: &mut Control, ip: IpAddr) -> TcpListener {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .expect("bind active");
    let port = listener.local_addr().expect("addr").port();
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            c.expect(
                &format!(
                    "PORT {},{},{},{},{},{}",
                    o[0],
                    o[1],
                    o[2],
                    o[3],
                    port >> 8,
                    port & 0xff
                ),
                200,
            )
            .await;
        }
        IpAddr::V6(v6) => {
            c.expect(&format!("EPRT |2|{v6}|{port}|"), 200).await;
        }
    }
    listener
}

async fn exercise(server: &RunningServer) {
    let ip = server.ip();
    let mut c = Control::connect(server.addr).await;
    c.login(server).await;
    c.expect("TYPE I", 200).await;

    // Passive upload.
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut data = epsv_data(&mut c, ip).await;
    let (code, text) = c.cmd("STOR up.bin").await;
    assert!(code == 150 || code == 125, "STOR -> {text:?}");
    data.write_all(&payload).await.expect("upload");
    data.shutdown().await.expect("shutdown");
    drop(data);
    let (code, text) = c.reply().await;
    assert!(code == 226 || code == 250, "after STOR {text:?}");
    let on_disk = std::fs::read(server.root.join("up.bin")).expect("uploaded file on disk");
    assert_eq!(on_disk, payload);

    // Passive download of what was uploaded.
    let mut data = epsv_data(&mut c, ip).await;
    let (code, text) = c.cmd("RETR up.bin").await;
    assert!(code == 150 || code == 125, "RETR -> {text:?}");
    let mut back = Vec::new();
    timeout(T, data.read_to_end(&mut back))
        .await
        .expect("retr timeout")
        .expect("retr");
    // Close our end at EOF: proftpd does a lingering close (waits for the client's FIN, up to
    // TimeoutLinger = 10 s) before it sends 226.
    drop(data);
    assert_eq!(back, payload);
    let (code, text) = c.reply().await;
    assert!(code == 226 || code == 250, "after RETR {text:?}");

    // Active download of a file the test placed.
    server
        .put_file("dir/hello.txt", b"hello active\n")
        .expect("put_file");
    if !(server.kind == Kind::Libunftp && ip.is_ipv6()) {
        let listener = active_listener(&mut c, ip).await;
        let (code, text) = c.cmd("RETR dir/hello.txt").await;
        assert!(code == 150 || code == 125, "active RETR -> {text:?}");
        let (mut data, peer) = timeout(T, listener.accept())
            .await
            .expect("accept timeout")
            .expect("accept");
        assert_eq!(peer.ip(), ip);
        let mut back = Vec::new();
        timeout(T, data.read_to_end(&mut back))
            .await
            .expect("active timeout")
            .expect("active read");
        drop(data);
        assert_eq!(back, b"hello active\n");
        let (code, text) = c.reply().await;
        assert!(code == 226 || code == 250, "after active RETR {text:?}");
    }

    // The server may overwrite and delete a file the test placed.
    c.expect("DELE dir/hello.txt", 250).await;
    assert!(!server.root.join("dir/hello.txt").exists());
    c.expect("QUIT", 221).await;
}

async fn check_tls(server: &RunningServer) {
    let cert = server.cert_pem.as_ref().expect("cert_pem in TLS mode");
    let pem = std::fs::read_to_string(cert).expect("read cert");
    assert!(pem.contains("BEGIN CERTIFICATE"));
    let mut c = Control::connect(server.addr).await;
    let (code, _) = c.reply().await;
    assert_eq!(code, 220);
    c.expect("AUTH TLS", 234).await;
}

async fn run(kind: Kind, tls: bool, ipv6: bool) {
    let server = start(
        kind,
        ServerOptions {
            tls,
            ipv6,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("start {kind}: {e}"));
    assert_eq!(server.kind, kind);
    assert_eq!(server.addr.is_ipv6(), ipv6);
    exercise(&server).await;
    if tls {
        check_tls(&server).await;
    } else {
        assert!(server.cert_pem.is_none());
    }
}

async fn two_at_once(kind: Kind) {
    let a = start(kind, ServerOptions::default())
        .await
        .unwrap_or_else(|e| panic!("start {kind}: {e}"));
    let b = start(kind, ServerOptions::default())
        .await
        .unwrap_or_else(|e| panic!("start {kind}: {e}"));
    assert_ne!(a.addr, b.addr);
    assert_ne!(a.root, b.root);
    let (ra, rb) = (a.passive_ports.clone(), b.passive_ports.clone());
    assert!(
        ra.end() < rb.start() || rb.end() < ra.start(),
        "passive ranges overlap: {ra:?} {rb:?}"
    );
    tokio::join!(exercise(&a), exercise(&b));
}

macro_rules! server_tests {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;
            #[tokio::test]
            async fn plain_ipv4() {
                run($kind, false, false).await
            }
            #[tokio::test]
            async fn tls_ipv4() {
                run($kind, true, false).await
            }
            #[tokio::test]
            async fn plain_ipv6() {
                run($kind, false, true).await
            }
            #[tokio::test]
            async fn tls_ipv6() {
                run($kind, true, true).await
            }
            #[tokio::test]
            async fn two_instances_at_once() {
                two_at_once($kind).await
            }
        }
    };
}

server_tests!(vsftpd, Kind::Vsftpd);
server_tests!(libunftp, Kind::Libunftp);
server_tests!(pure_ftpd, Kind::PureFtpd);
server_tests!(proftpd, Kind::Proftpd);
server_tests!(pyftpdlib, Kind::Pyftpdlib);

/// pyftpdlib's ACCT extension: 332 after PASS, 230 after the right ACCT, 530 after a wrong one.
#[tokio::test]
async fn pyftpdlib_acct_login() {
    let server = start(Kind::Pyftpdlib, ServerOptions::default())
        .await
        .expect("start");
    let acct = server.account_login.clone().expect("account login");
    assert_eq!(
        (acct.user.as_str(), acct.account.as_str()),
        ("acctuser", "acme")
    );

    let mut c = Control::connect(server.addr).await;
    assert_eq!(c.reply().await.0, 220);
    c.expect(&format!("USER {}", acct.user), 331).await;
    c.expect(&format!("PASS {}", acct.password), 332).await;
    c.expect(&format!("ACCT {}", acct.account), 230).await;
    c.expect("PWD", 257).await;

    let mut c = Control::connect(server.addr).await;
    assert_eq!(c.reply().await.0, 220);
    c.expect(&format!("USER {}", acct.user), 331).await;
    c.expect(&format!("PASS {}", acct.password), 332).await;
    c.expect("ACCT wrong", 530).await;

    // Users without an account requirement: ACCT is not needed.
    let mut c = Control::connect(server.addr).await;
    c.login(&server).await;
    c.expect("ACCT acme", 202).await;
}
