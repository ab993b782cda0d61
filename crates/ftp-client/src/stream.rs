//! Byte streams under the protocol: plain TCP or TLS, the data-stall guard, and the
//! asynchronous "linger" close.
//!
//! # Linger without blocking a thread
//!
//! An embedded module's *linger time* is `SO_LINGER`: on close, keep trying to deliver
//! unsent bytes for up to that long. A nonzero `SO_LINGER` makes `close()` block the
//! calling thread, which on a tokio runtime would stall a worker (tokio 1.54 deprecates
//! `set_linger` for that reason). The client emulates it instead: it shuts the
//! write side down (TLS `close_notify`, then TCP FIN, so the peer receives everything
//! already written), then in a spawned task keeps reading and discarding until the peer
//! closes too or the linger time runs out, and only then drops the socket. Reading until
//! the peer's FIN also avoids the RST a close with unread input would send.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The bytes of one connection as the client reads and writes them: the TCP stream itself, or
/// whatever a [`SocketLayer`] put around it.
pub trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// A connection's bytes, boxed so that every session has one stream type.
pub type BoxSocket = Box<dyn Socket>;

/// Which connection of a session a socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRole {
    Control,
    Data,
}

/// Wraps every TCP connection a session opens, below TLS: an embedder's hook to shape or
/// disturb the traffic (an emulated module's radio link and injected faults) without the client
/// knowing. The client has already read the addresses it needs from `tcp`.
///
/// The client flushes a data connection it opened before it sends the command that uses it: a
/// layer that models the TCP handshake makes that flush wait until the connection is up, as a
/// blocking `connect()` would.
pub trait SocketLayer: Send + Sync {
    fn wrap(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket;

    /// Wraps a connection the server opened to the client (active mode's data connection); the
    /// server then speaks first after the handshake. By default as [`SocketLayer::wrap`].
    fn wrap_accepted(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket {
        self.wrap(tcp, role)
    }

    /// Wraps a data connection: one the client opened, or (`accepted`) one the server opened
    /// to it; `protected`: its bytes will be TLS (`PROT P`), so a layer that records contents
    /// would see only records. By default as [`SocketLayer::wrap`] or
    /// [`SocketLayer::wrap_accepted`].
    fn wrap_data(&self, tcp: TcpStream, accepted: bool, protected: bool) -> BoxSocket {
        let _ = protected;
        if accepted {
            self.wrap_accepted(tcp, SocketRole::Data)
        } else {
            self.wrap(tcp, SocketRole::Data)
        }
    }

    /// Where a control connection to `addr` really goes (an embedder's address rewriting);
    /// data connections follow the control connection's peer.
    fn route(&self, addr: SocketAddr) -> SocketAddr {
        addr
    }

    /// Whether a control connection may go to `addr` (after [`SocketLayer::route`]): an
    /// embedder's egress policy. A refused one fails as a refused connect would. By default
    /// every address.
    fn allows(&self, _addr: SocketAddr) -> bool {
        true
    }

    /// A line of the control dialogue, as the client's own log shows it: a command `sent`
    /// (`PASS ****`, the password never shown) or a reply received (its lines joined). An
    /// embedder's trace hook; by default nothing.
    fn control_line(&self, _sent: bool, _line: &str) {}

    /// A TLS handshake on the session's last `role` connection succeeded: what it settled. An
    /// embedder's trace hook; by default nothing.
    fn tls_established(&self, _role: SocketRole, _tls: &TlsSummary) {}
}

/// What a TLS handshake settled, as a trace records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    /// The protocol version as rustls names it: `TLSv1_3`, `TLSv1_2`.
    pub version: String,
    /// The cipher suite as rustls names it: `TLS13_AES_256_GCM_SHA384`.
    pub suite: String,
    /// The handshake resumed an earlier session (a ticket or a session id).
    pub resumed: bool,
}

impl TlsSummary {
    /// What `conn`'s completed handshake settled.
    pub fn of(conn: &rustls::ClientConnection) -> TlsSummary {
        TlsSummary {
            version: conn
                .protocol_version()
                .map_or_else(|| "?".into(), |v| format!("{v:?}")),
            suite: conn
                .negotiated_cipher_suite()
                .map_or_else(|| "?".into(), |s| format!("{:?}", s.suite())),
            resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        }
    }
}

/// Applies `layer` (if any) to a new connection.
pub(crate) fn wrap(
    layer: Option<&std::sync::Arc<dyn SocketLayer>>,
    tcp: TcpStream,
    role: SocketRole,
) -> BoxSocket {
    match layer {
        Some(layer) => layer.wrap(tcp, role),
        None => Box::new(tcp),
    }
}

/// Applies `layer` (if any) to a new data connection ([`SocketLayer::wrap_data`]).
pub(crate) fn wrap_data(
    layer: Option<&std::sync::Arc<dyn SocketLayer>>,
    tcp: TcpStream,
    accepted: bool,
    protected: bool,
) -> BoxSocket {
    match layer {
        Some(layer) => layer.wrap_data(tcp, accepted, protected),
        None => Box::new(tcp),
    }
}

/// A connection, with or without TLS on top.
pub(crate) enum Stream {
    Plain(BoxSocket),
    Tls(Box<tokio_rustls::client::TlsStream<BoxSocket>>),
}

impl Stream {
    /// The negotiated TLS version and whether the handshake resumed a session.
    pub(crate) fn tls_info(
        &self,
    ) -> Option<(Option<rustls::ProtocolVersion>, rustls::HandshakeKind)> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => {
                let conn = s.get_ref().1;
                Some((
                    conn.protocol_version(),
                    conn.handshake_kind().unwrap_or(rustls::HandshakeKind::Full),
                ))
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => match Pin::new(s.as_mut()).poll_read(cx, buf) {
                // Many FTP servers close data connections without a TLS close_notify.
                // The transfer's completeness is confirmed by the final reply (226), so
                // a missing close_notify is treated as a normal end of data.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Marker inside the `io::Error` a stalled data connection reports.
#[derive(Debug)]
pub(crate) struct DataStalled;

impl std::fmt::Display for DataStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no data moved for the stall timeout")
    }
}

impl std::error::Error for DataStalled {}

/// Whether an I/O error came from the stall guard.
pub(crate) fn is_stall(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|e| e.is::<DataStalled>())
}

/// A stream whose reads and writes fail with [`DataStalled`] (kind `TimedOut`) when
/// the peer lets one of them wait longer than the stall timeout. Time the *caller*
/// spends between calls does not count: the clock starts when a call has to wait.
pub(crate) struct StallGuarded {
    inner: Stream,
    timeout: Option<Duration>,
    sleep: Pin<Box<Sleep>>,
    waiting: bool,
}

impl StallGuarded {
    pub(crate) fn new(inner: Stream, timeout: Option<Duration>) -> Self {
        StallGuarded {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            waiting: false,
        }
    }

    pub(crate) fn into_inner(self) -> Stream {
        self.inner
    }

    /// Reads what is ready now, without waiting and without starting the stall clock: `None`
    /// when nothing is ready.
    pub(crate) fn read_ready(&mut self, buf: &mut ReadBuf<'_>) -> Option<io::Result<()>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut self.inner).poll_read(&mut cx, buf) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }

    /// Runs one poll of the inner stream under the stall clock.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut Stream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let Some(timeout) = self.timeout else {
            return poll(Pin::new(&mut self.inner), cx);
        };
        if !self.waiting {
            self.sleep.as_mut().reset(Instant::now() + timeout);
            self.waiting = true;
        }
        match poll(Pin::new(&mut self.inner), cx) {
            Poll::Ready(r) => {
                self.waiting = false;
                Poll::Ready(r)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.waiting = false;
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, DataStalled)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for StallGuarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_read(cx, buf))
    }
}

impl AsyncWrite for StallGuarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_shutdown(cx))
    }
}

use std::future::Future;

/// Reads and discards until the peer closes (or an error). Returns the bytes discarded.
pub(crate) async fn drain<S: AsyncRead + Unpin>(stream: &mut S) -> u64 {
    let mut buf = [0u8; 4096];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

/// Closes a connection gracefully without blocking: see the [module docs](self).
/// With `linger == 0` ("not set") the shutdown is still sent, but the socket is dropped
/// right after, as a plain `close()` would.
pub(crate) fn close_with_linger(mut stream: Stream, linger: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return; // No runtime (e.g. dropped at process exit): a plain close.
    };
    runtime.spawn(async move {
        let grace = if linger.is_zero() {
            Duration::from_millis(200)
        } else {
            linger
        };
        let _ = tokio::time::timeout(grace, stream.shutdown()).await;
        if !linger.is_zero() {
            let _ = tokio::time::timeout(linger, drain(&mut stream)).await;
        }
        drop(stream);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn linger_close_returns_at_once_and_delivers_everything() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (mut peer, _) = listener.accept().await.expect("accept");
        let mut stream = Stream::Plain(Box::new(client));
        let payload = vec![7u8; 1 << 20];
        let writer = async {
            stream.write_all(&payload).await.expect("write");
            let started = std::time::Instant::now();
            close_with_linger(stream, Duration::from_secs(30));
            assert!(
                started.elapsed() < Duration::from_millis(100),
                "close blocked"
            );
        };
        let reader = async {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.expect("read");
            got
        };
        let ((), got) = tokio::join!(writer, reader);
        assert_eq!(got.len(), payload.len());
    }
}
