//! The socket peers of `test_servers::sockets`, exercised with plain tokio clients (and a
//! tokio-rustls client trusting the test CA): echo, counters, peer close, stop on drop, and
//! `connect_and_send` against a listener, a silent peer and a closed port.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_servers::sockets::{EchoMode, TcpEcho, TlsEcho, UdpEcho, connect_and_send};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const T: Duration = Duration::from_secs(10);

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Writes `data` while reading the echo, then half-closes and reads to EOF (large payloads
/// would deadlock if written before reading).
async fn round_trip<S>(io: S, data: &[u8]) -> Vec<u8>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let out = data.to_vec();
    let writer = tokio::spawn(async move {
        wr.write_all(&out).await.expect("write");
        wr.shutdown().await.expect("shutdown");
        wr
    });
    let mut back = Vec::new();
    timeout(T, rd.read_to_end(&mut back))
        .await
        .expect("echo timed out")
        .expect("read");
    drop(writer.await.expect("writer"));
    back
}

/// Waits until `addr` refuses connections (a dropped server stops "soon", not at once).
async fn assert_stops_listening(addr: SocketAddr) {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{addr} still accepts connections after the server was dropped");
}

#[tokio::test]
async fn tcp_echo_echoes_every_connection_and_counts() {
    let echo = TcpEcho::start().await.unwrap();
    assert!(echo.addr().ip().is_loopback());
    assert_ne!(echo.addr().port(), 0);
    let big = payload(1 << 20);
    let small = b"hello, module".to_vec();
    let (a, b) = tokio::join!(
        async { round_trip(TcpStream::connect(echo.addr()).await.unwrap(), &big).await },
        async { round_trip(TcpStream::connect(echo.addr()).await.unwrap(), &small).await },
    );
    assert_eq!(a, big);
    assert_eq!(b, small);
    assert_eq!(echo.connections(), 2);
    assert_eq!(echo.bytes_echoed(), (big.len() + small.len()) as u64);
}

#[tokio::test]
async fn tcp_echo_keeps_a_connection_open_between_writes() {
    let echo = TcpEcho::start().await.unwrap();
    let mut tcp = TcpStream::connect(echo.addr()).await.unwrap();
    for word in [&b"one"[..], b"two", b"three"] {
        tcp.write_all(word).await.unwrap();
        let mut back = vec![0; word.len()];
        timeout(T, tcp.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, word);
    }
    assert_eq!(echo.connections(), 1);
    assert_eq!(echo.bytes_echoed(), 11);
}

#[tokio::test]
async fn tcp_close_after_first_echoes_then_closes() {
    let echo = TcpEcho::close_after_first().await.unwrap();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(echo.addr()).await.unwrap();
        tcp.write_all(b"ping").await.unwrap();
        let mut back = Vec::new();
        // The server closes without waiting for our FIN: read_to_end ends on its FIN.
        timeout(T, tcp.read_to_end(&mut back))
            .await
            .expect("server did not close")
            .unwrap();
        assert_eq!(back, b"ping");
        // Our side is still writable until we close; the server drains, no reset.
        tcp.write_all(b"late").await.unwrap();
    }
    assert_eq!(echo.connections(), 2);
    assert_eq!(echo.bytes_echoed(), 8);
}

#[tokio::test]
async fn tcp_echo_on_a_given_address() {
    let echo = TcpEcho::start_on("127.0.0.1:0".parse().unwrap(), EchoMode::Echo)
        .await
        .unwrap();
    let back = connect_and_send(echo.addr(), b"abc", 3, T).await.unwrap();
    assert_eq!(back, b"abc");
}

#[tokio::test]
async fn dropping_tcp_echo_stops_listening_and_closes_connections() {
    let echo = TcpEcho::start().await.unwrap();
    let addr = echo.addr();
    let mut open = TcpStream::connect(addr).await.unwrap();
    open.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    open.read_exact(&mut one).await.unwrap();
    drop(echo);
    let mut rest = Vec::new();
    let end = timeout(T, open.read_to_end(&mut rest))
        .await
        .expect("open connection survived the drop");
    if let Ok(n) = end {
        assert_eq!(n, 0, "unexpected bytes {rest:?}");
    }
    assert_stops_listening(addr).await;
}

#[tokio::test]
async fn udp_echo_answers_each_sender() {
    let echo = UdpEcho::start().await.unwrap();
    assert!(echo.addr().ip().is_loopback());
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let big = payload(8000);
    a.send_to(b"from a", echo.addr()).await.unwrap();
    b.send_to(&big, echo.addr()).await.unwrap();
    a.send_to(b"again a", echo.addr()).await.unwrap();
    let mut buf = vec![0u8; 65536];
    for (socket, expect) in [(&a, &b"from a"[..]), (&b, &big[..]), (&a, b"again a")] {
        let (n, from) = timeout(T, socket.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(from, echo.addr());
        assert_eq!(&buf[..n], expect);
    }
    assert_eq!(echo.datagrams_echoed(), 3);
    assert_eq!(echo.bytes_echoed(), (6 + 7 + big.len()) as u64);
}

#[tokio::test]
async fn udp_echo_survives_a_sender_that_went_away() {
    let echo = UdpEcho::start().await.unwrap();
    let gone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    gone.send_to(b"bye", echo.addr()).await.unwrap();
    drop(gone); // the echo hits a closed port: ICMP port unreachable
    tokio::time::sleep(Duration::from_millis(50)).await;
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(echo.addr()).await.unwrap();
    c.send(b"still there?").await.unwrap();
    let mut buf = [0u8; 64];
    let n = timeout(T, c.recv(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], b"still there?");
}

fn tls_client(ca_der: &[u8]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    tls_connector(roots)
}

fn tls_connector(roots: rustls::RootCertStore) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn tls_echo_verifies_by_name_and_ip_and_echoes() {
    let echo = TlsEcho::start().await.unwrap();
    assert_eq!(echo.server_names(), ["localhost", "127.0.0.1", "::1"]);
    let connector = tls_client(echo.ca_der());
    let data = payload(300_000);
    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(echo.addr()).await.unwrap();
        let server_name = ServerName::try_from(name).unwrap().to_owned();
        let tls = timeout(T, connector.connect(server_name, tcp))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("handshake as {name}: {e}"));
        assert_eq!(round_trip(tls, &data).await, data);
    }
    assert_eq!(echo.connections(), 2);
    assert_eq!(echo.handshakes(), 2);
    assert_eq!(echo.failed_handshakes(), 0);
    assert_eq!(echo.bytes_echoed(), 2 * data.len() as u64);
}

#[tokio::test]
async fn tls_echo_ca_pem_and_der_are_the_same_ca() {
    let echo = TlsEcho::start().await.unwrap();
    assert!(echo.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let from_pem = CertificateDer::from_pem_slice(echo.ca_pem().as_bytes()).unwrap();
    assert_eq!(from_pem.as_ref(), echo.ca_der());
    // A client trusting the PEM works too.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(from_pem).unwrap();
    let tcp = TcpStream::connect(echo.addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tls_connector(roots).connect(name, tcp).await.unwrap();
    tls.write_all(b"pem").await.unwrap();
    let mut back = [0u8; 3];
    timeout(T, tls.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"pem");
    // Each instance has its own CA.
    let other = TlsEcho::start().await.unwrap();
    assert_ne!(other.ca_der(), echo.ca_der());
}

#[tokio::test]
async fn tls_echo_is_refused_without_its_ca_and_counts_the_failure() {
    let echo = TlsEcho::start().await.unwrap();
    let stranger = TlsEcho::start().await.unwrap();
    let tcp = TcpStream::connect(echo.addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let err = timeout(T, tls_client(stranger.ca_der()).connect(name, tcp))
        .await
        .unwrap()
        .expect_err("handshake with a foreign CA succeeded");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // A wrong name fails too, with the right CA.
    let tcp = TcpStream::connect(echo.addr()).await.unwrap();
    let name = ServerName::try_from("example.com").unwrap();
    let err = tls_client(echo.ca_der())
        .connect(name, tcp)
        .await
        .expect_err("handshake for a foreign name succeeded");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    for _ in 0..200 {
        if echo.failed_handshakes() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(echo.failed_handshakes(), 2);
    assert_eq!(echo.handshakes(), 0);
}

#[tokio::test]
async fn tls_close_after_first_sends_close_notify() {
    let echo = TlsEcho::start_on("127.0.0.1:0".parse().unwrap(), EchoMode::CloseAfterFirst)
        .await
        .unwrap();
    let tcp = TcpStream::connect(echo.addr()).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tls_client(echo.ca_der()).connect(name, tcp).await.unwrap();
    tls.write_all(b"once").await.unwrap();
    let mut back = Vec::new();
    // read_to_end fails with UnexpectedEof unless the server sent close_notify.
    timeout(T, tls.read_to_end(&mut back))
        .await
        .expect("server did not close")
        .expect("clean TLS close");
    assert_eq!(back, b"once");
}

#[tokio::test]
async fn dropping_tls_echo_stops_listening() {
    let echo = TlsEcho::start().await.unwrap();
    let addr = echo.addr();
    drop(echo);
    assert_stops_listening(addr).await;
}

#[tokio::test]
async fn connect_and_send_talks_to_a_listener() {
    // Stand-in for a socket the module listens on: reads 5 bytes, answers, closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut got = [0u8; 5];
        tcp.read_exact(&mut got).await.unwrap();
        tcp.write_all(b"world and more").await.unwrap();
        got
    });
    // Reads exactly the expected length, not the extra bytes.
    let back = connect_and_send(addr, b"hello", 5, T).await.unwrap();
    assert_eq!(back, b"world");
    assert_eq!(&peer.await.unwrap(), b"hello");
}

#[tokio::test]
async fn connect_and_send_returns_short_on_peer_close() {
    let echo = TcpEcho::close_after_first().await.unwrap();
    let back = connect_and_send(echo.addr(), b"short", 100, T)
        .await
        .unwrap();
    assert_eq!(back, b"short");
    // Nothing to read: just sends.
    let back = connect_and_send(echo.addr(), b"fire", 0, T).await.unwrap();
    assert!(back.is_empty());
}

#[tokio::test]
async fn connect_and_send_times_out_on_a_silent_peer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.write_all(b"ab").await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let started = std::time::Instant::now();
    let err = connect_and_send(addr, b"hi", 10, Duration::from_millis(300))
        .await
        .expect_err("no timeout");
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.to_string().contains("got 2 of 10"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}

#[tokio::test]
async fn connect_and_send_reports_a_refused_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = connect_and_send(addr, b"hi", 2, T).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}
