//! Socket peers on loopback for testing the module's socket service (`+USO*`) against real OS
//! sockets: echo servers the module connects to, and a client that connects to a socket the
//! module listens on.
//!
//! | type | what it does |
//! |---|---|
//! | [`TcpEcho`] | accepts any number of TCP connections and echoes every byte; with [`EchoMode::CloseAfterFirst`] it closes each connection right after echoing the first read |
//! | [`UdpEcho`] | sends every datagram back to its sender |
//! | [`TlsEcho`] | [`TcpEcho`] behind TLS, with a fresh test CA ([`TlsEcho::ca_pem`], [`TlsEcho::ca_der`]) that signs a certificate for `localhost`, `127.0.0.1` and `::1` |
//! | [`connect_and_send`] | connects to an address, sends bytes, reads an expected number back |
//!
//! Every server binds `127.0.0.1:0` (an ephemeral port, see `addr()`) unless started with
//! `start_on`, runs on the tokio runtime it was started from, and is stopped when its handle is
//! dropped: the accept (or receive) task and every connection task are aborted, which closes the
//! listening socket and every open connection as soon as the runtime next runs them (a client
//! may still connect for a moment after the drop, not for long).
//!
//! Counters are bumped *before* the bytes are written back (and a connection is counted when it
//! is accepted), so once a client has read its echo, the counts include it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use test_servers::sockets::{TcpEcho, connect_and_send};
//! let echo = TcpEcho::start().await?;
//! // … have the module connect to echo.addr() and write "hello" …
//! let back = connect_and_send(echo.addr(), b"hello", 5, Duration::from_secs(5)).await?;
//! assert_eq!(back, b"hello");
//! assert_eq!(echo.bytes_echoed(), 5);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};

use crate::pki;

/// `127.0.0.1:0`: loopback, ephemeral port. What `start()` binds.
pub const LOOPBACK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// How long a TLS handshake may take before the server gives up on the connection.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a [`EchoMode::CloseAfterFirst`] connection waits, after sending its FIN, for the
/// peer to close too before it is dropped.
pub const CLOSE_LINGER: Duration = Duration::from_secs(10);

/// Read buffer per connection (and the largest UDP datagram).
const BUF: usize = 64 * 1024;

/// What an echo server does with a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EchoMode {
    /// Echo every byte until the peer closes its sending side, then close (FIN) too.
    #[default]
    Echo,
    /// Echo the first read (whatever one `read` returned, at least one byte), then close the
    /// connection (FIN; for TLS, `close_notify` and FIN): a peer close right after data. Bytes
    /// the peer sends after that are read and discarded until it closes too (at most
    /// [`CLOSE_LINGER`]), so the close is a clean FIN, never a reset.
    CloseAfterFirst,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    handshakes: AtomicU64,
    failed_handshakes: AtomicU64,
    datagrams: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The server's task; aborted on drop (which drops its [`JoinSet`] of connection tasks, which
/// aborts those too).
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A TCP echo server. See the [module docs](self).
#[derive(Debug)]
pub struct TcpEcho {
    addr: SocketAddr,
    counters: Arc<Counters>,
    _task: Task,
}

impl TcpEcho {
    /// Echo server on `127.0.0.1:0` ([`EchoMode::Echo`]).
    pub async fn start() -> io::Result<Self> {
        Self::start_on(LOOPBACK, EchoMode::Echo).await
    }

    /// Echo server on `127.0.0.1:0` that closes each connection after echoing its first read
    /// ([`EchoMode::CloseAfterFirst`]).
    pub async fn close_after_first() -> io::Result<Self> {
        Self::start_on(LOOPBACK, EchoMode::CloseAfterFirst).await
    }

    /// Echo server on `bind` (port 0 for an ephemeral port).
    pub async fn start_on(bind: SocketAddr, mode: EchoMode) -> io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        let task = spawn_accept_loop(listener, counters.clone(), move |tcp| {
            let counters = shared.clone();
            async move {
                let _ = echo(tcp, mode, &counters).await;
            }
        });
        Ok(TcpEcho {
            addr,
            counters,
            _task: task,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        Counters::get(&self.counters.connections)
    }

    /// Bytes echoed so far, over all connections.
    pub fn bytes_echoed(&self) -> u64 {
        Counters::get(&self.counters.bytes)
    }
}

/// A UDP echo server: every datagram goes back to the address it came from. See the
/// [module docs](self).
#[derive(Debug)]
pub struct UdpEcho {
    addr: SocketAddr,
    counters: Arc<Counters>,
    _task: Task,
}

impl UdpEcho {
    /// UDP echo server on `127.0.0.1:0`.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(LOOPBACK).await
    }

    /// UDP echo server on `bind` (port 0 for an ephemeral port).
    pub async fn start_on(bind: SocketAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(bind).await?;
        let addr = socket.local_addr()?;
        let counters = Arc::new(Counters::default());
        let task = Task(tokio::spawn(udp_echo(socket, counters.clone())));
        Ok(UdpEcho {
            addr,
            counters,
            _task: task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Datagrams echoed so far.
    pub fn datagrams_echoed(&self) -> u64 {
        Counters::get(&self.counters.datagrams)
    }

    /// Payload bytes echoed so far.
    pub fn bytes_echoed(&self) -> u64 {
        Counters::get(&self.counters.bytes)
    }
}

/// A TCP echo server behind TLS (rustls, ring provider, TLS 1.2 and 1.3). Each instance makes
/// its own test CA and a server certificate signed by it (ECDSA P-256) for `localhost`,
/// `127.0.0.1` and `::1`; a client that trusts [`ca_der`](Self::ca_der) /
/// [`ca_pem`](Self::ca_pem) verifies the server by any of those names. No client certificate is
/// asked for. See the [module docs](self).
#[derive(Debug)]
pub struct TlsEcho {
    addr: SocketAddr,
    ca_pem: String,
    ca_der: Vec<u8>,
    counters: Arc<Counters>,
    _task: Task,
}

impl TlsEcho {
    /// TLS echo server on `127.0.0.1:0` ([`EchoMode::Echo`]).
    pub async fn start() -> io::Result<Self> {
        Self::start_on(LOOPBACK, EchoMode::Echo).await
    }

    /// TLS echo server on `bind` (port 0 for an ephemeral port).
    pub async fn start_on(bind: SocketAddr, mode: EchoMode) -> io::Result<Self> {
        let pki = pki::localhost_pki()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config()?));
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        let task = spawn_accept_loop(listener, counters.clone(), move |tcp| {
            let (acceptor, counters) = (acceptor.clone(), shared.clone());
            async move {
                match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        Counters::bump(&counters.handshakes, 1);
                        let _ = echo(tls, mode, &counters).await;
                    }
                    _ => Counters::bump(&counters.failed_handshakes, 1),
                }
            }
        });
        Ok(TlsEcho {
            addr,
            ca_pem: pki.ca_pem,
            ca_der: pki.ca_der.to_vec(),
            counters,
            _task: task,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA's certificate, PEM (`-----BEGIN CERTIFICATE-----` …).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The test CA's certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The names the server certificate is valid for: `localhost`, `127.0.0.1`, `::1`.
    pub fn server_names(&self) -> &'static [&'static str] {
        &pki::SERVER_NAMES
    }

    /// TCP connections accepted so far (whether or not their handshake succeeded).
    pub fn connections(&self) -> u64 {
        Counters::get(&self.counters.connections)
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> u64 {
        Counters::get(&self.counters.handshakes)
    }

    /// TLS handshakes that failed (the client refused the certificate, spoke no TLS, timed out
    /// after [`HANDSHAKE_TIMEOUT`] …). Counted when the server notices, which may be a moment
    /// after the client saw its own error.
    pub fn failed_handshakes(&self) -> u64 {
        Counters::get(&self.counters.failed_handshakes)
    }

    /// Plaintext bytes echoed so far, over all connections.
    pub fn bytes_echoed(&self) -> u64 {
        Counters::get(&self.counters.bytes)
    }
}

/// Connect to `addr` (say, a socket the module listens on), send `bytes`, then read until
/// `read_expect_len` bytes came back or the peer closed, and close. `timeout` bounds the whole
/// exchange.
///
/// Returns what was read: exactly `read_expect_len` bytes, or fewer if the peer closed first
/// (never more: nothing beyond `read_expect_len` is read). With `read_expect_len == 0` nothing
/// is read. Errors: the connect or write failed (`ConnectionRefused` …), or `TimedOut` when the
/// time ran out first (the message shows what had arrived by then).
pub async fn connect_and_send(
    addr: SocketAddr,
    bytes: &[u8],
    read_expect_len: usize,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let timed_out = |what: &str| io::Error::new(io::ErrorKind::TimedOut, format!("{addr}: {what}"));
    let mut tcp = timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out("connect timed out"))??;
    timeout_at(deadline, tcp.write_all(bytes))
        .await
        .map_err(|_| timed_out("write timed out"))??;
    let mut got = Vec::with_capacity(read_expect_len.min(BUF));
    let mut buf = vec![0u8; read_expect_len.min(BUF)];
    while got.len() < read_expect_len {
        let want = (read_expect_len - got.len()).min(buf.len());
        let read = timeout_at(deadline, tcp.read(&mut buf[..want])).await;
        let Ok(n) = read else {
            return Err(timed_out(&format!(
                "got {} of {read_expect_len} bytes before the timeout: \"{}\"",
                got.len(),
                got.escape_ascii()
            )));
        };
        let n = n?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let _ = tcp.shutdown().await;
    Ok(got)
}

/// Accept connections forever, counting them and running `serve` on each in a [`JoinSet`]
/// owned by the task (so aborting the task aborts every connection too).
fn spawn_accept_loop<F, Fut>(listener: TcpListener, counters: Arc<Counters>, serve: F) -> Task
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Task(tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            match listener.accept().await {
                Ok((tcp, _peer)) => {
                    Counters::bump(&counters.connections, 1);
                    connections.spawn(serve(tcp));
                }
                // Out of descriptors or the like: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
            while connections.try_join_next().is_some() {}
        }
    }))
}

/// Echo on one connection as `mode` says; see [`EchoMode`].
async fn echo<S>(mut io: S, mode: EchoMode, counters: &Counters) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF];
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        Counters::bump(&counters.bytes, n as u64);
        io.write_all(&buf[..n]).await?;
        io.flush().await?;
        if mode == EchoMode::CloseAfterFirst {
            io.shutdown().await?;
            // Drain until the peer closes too, so the close stays a FIN (no RST for unread data).
            let _ = timeout(CLOSE_LINGER, async {
                while io.read(&mut buf).await? > 0 {}
                io::Result::Ok(())
            })
            .await;
            return Ok(());
        }
    }
    io.shutdown().await
}

/// Receive datagrams forever and send each back to its sender.
async fn udp_echo(socket: UdpSocket, counters: Arc<Counters>) {
    let mut buf = vec![0u8; BUF];
    loop {
        // An error here is per datagram (e.g. ECONNREFUSED left by an ICMP port unreachable
        // after an earlier reply): skip it.
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        Counters::bump(&counters.datagrams, 1);
        Counters::bump(&counters.bytes, n as u64);
        let _ = socket.send_to(&buf[..n], peer).await;
    }
}
