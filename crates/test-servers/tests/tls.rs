//! FTPS against every server with rustls, trusting only `cert_pem`: AUTH TLS, login over TLS,
//! PROT P, a download over a TLS data connection that resumes the control session. And the
//! reuse check of vsftpd and proftpd: a data connection with a fresh TLS session is refused.
//! TLS 1.2 only, because rustls + TLS 1.3 trips proftpd's reuse check on every 4th data
//! connection (shared/interop/ftp-ecosystem.md §1); that is the client's problem, not this crate's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const T: Duration = Duration::from_secs(15);

struct Ctl<S> {
    s: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Ctl<S> {
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = timeout(T, self.s.read_line(&mut line))
                .await
                .expect("reply timeout")
                .expect("read");
            assert!(n > 0, "closed; so far {text:?}");
            text.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                return (line[..3].parse().expect("code"), text);
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.s
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.s.get_mut().flush().await.expect("flush");
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line).await;
        let shown = if line.starts_with("PASS") {
            "PASS ****"
        } else {
            line
        };
        assert_eq!(got, code, "{shown} -> {text:?}");
        text
    }
}

fn client_config(server: &RunningServer) -> Arc<rustls::ClientConfig> {
    let pem = server.cert_pem.as_ref().expect("cert_pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem).expect("read pem") {
        roots.add(cert.expect("pem cert")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Log in over TLS, PROT P, and RETR `file` over a TLS data connection made with `data_config`.
/// Returns the final reply code of the RETR and the bytes received (if the handshake worked).
async fn tls_session(
    server: &RunningServer,
    name: ServerName<'static>,
    data_config: Option<Arc<rustls::ClientConfig>>,
) -> (u16, Vec<u8>) {
    let config = client_config(server);
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let mut plain = Ctl {
        s: BufReader::new(tcp),
    };
    assert_eq!(plain.reply().await.0, 220);
    plain.expect("AUTH TLS", 234).await;
    assert!(plain.s.buffer().is_empty());
    let tcp = plain.s.into_inner();
    let tls = timeout(
        T,
        TlsConnector::from(config.clone()).connect(name.clone(), tcp),
    )
    .await
    .expect("handshake timeout")
    .unwrap_or_else(|e| panic!("{}: control handshake: {e}", server.kind));
    let mut c = Ctl {
        s: BufReader::new(tls),
    };
    let (code, text) = c.cmd(&format!("USER {}", server.user)).await;
    assert_eq!(code, 331, "{text:?}");
    c.expect(&format!("PASS {}", server.password), 230).await;
    c.expect("PBSZ 0", 200).await;
    c.expect("PROT P", 200).await;
    c.expect("TYPE I", 200).await;
    let text = c.expect("EPSV", 229).await;
    let port: u16 = text
        .split("(|||")
        .nth(1)
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let data_tcp = TcpStream::connect(SocketAddr::new(server.ip(), port))
        .await
        .expect("data connect");
    c.s.get_mut()
        .write_all(b"RETR hello.txt\r\n")
        .await
        .unwrap();
    let connector = TlsConnector::from(data_config.unwrap_or(config));
    let handshake = timeout(T, connector.connect(name, data_tcp))
        .await
        .expect("data handshake timeout");
    let (first, _) = c.reply().await;
    let mut got = Vec::new();
    if let Ok(mut data) = handshake {
        let _ = timeout(T, data.read_to_end(&mut got))
            .await
            .expect("data timeout");
        drop(data);
    }
    if first == 150 || first == 125 {
        let (last, _) = c.reply().await;
        return (last, got);
    }
    (first, got)
}

async fn full_tls_download(kind: Kind, ipv6: bool) {
    let server = start(
        kind,
        ServerOptions {
            tls: true,
            ipv6,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("start {kind}: {e}"));
    server.put_file("hello.txt", b"hello over TLS\n").unwrap();
    let name = ServerName::IpAddress(server.ip().into());
    let (code, got) = tls_session(&server, name, None).await;
    assert_eq!(code, 226, "{kind}: final reply\n{}", server.read_logs());
    assert_eq!(got, b"hello over TLS\n");
}

#[tokio::test]
async fn tls_download_every_server_ipv4() {
    for kind in Kind::ALL {
        full_tls_download(kind, false).await;
    }
}

#[tokio::test]
async fn tls_download_every_server_ipv6() {
    for kind in Kind::ALL {
        full_tls_download(kind, true).await;
    }
}

#[tokio::test]
async fn certificate_is_valid_for_localhost_name() {
    let server = start(
        Kind::Libunftp,
        ServerOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    server.put_file("hello.txt", b"x").unwrap();
    let (code, _) = tls_session(&server, ServerName::try_from("localhost").unwrap(), None).await;
    assert_eq!(code, 226);
}

/// vsftpd (require_ssl_reuse=YES) and proftpd (default) refuse a data connection whose TLS
/// session is not resumed from the control connection.
#[tokio::test]
async fn reuse_enforcing_servers_refuse_a_fresh_data_session() {
    for kind in Kind::ALL {
        let server = start(
            kind,
            ServerOptions {
                tls: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        server.put_file("hello.txt", b"hello over TLS\n").unwrap();
        let mut fresh = (*client_config(&server)).clone();
        fresh.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::IpAddress(server.ip().into());
        let (code, got) = tls_session(&server, name, Some(Arc::new(fresh))).await;
        if kind.requires_tls_session_reuse() {
            assert!(
                code == 522 || code == 425,
                "{kind}: expected refusal, got {code}"
            );
            assert!(got.is_empty());
        } else {
            assert_eq!(code, 226, "{kind}");
            assert_eq!(got, b"hello over TLS\n");
        }
    }
}
