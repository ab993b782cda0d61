//! The module's sockets as the field sees them: every FTP control and data connection goes
//! through a [`FieldSocket`], which delays its bytes as the radio link would ([`super::link`]) and
//! carries out the socket faults ([`super::faults::SocketAction`]). Its opening and every byte it
//! moves are radio activity ([`super::radio::Radio`]), which keeps the module's signalling
//! connection up.
//!
//! Unshaped and with no fault set, a read or write goes straight to the TCP stream (one atomic
//! load more, and a clock read and two atomic stores for the radio's activity when bytes moved),
//! so the layer costs nothing measurable when off (docs/BENCHMARKS.md).
//!
//! Shaped, each direction has a queue of chunks with the time each arrives:
//!
//! - **down**: chunks are read from TCP as long as the queue holds less than the link's
//!   bandwidth-delay product, and handed to the client when their time comes; beyond that the
//!   socket stops reading and TCP's flow control slows the server, as a slow radio would;
//! - **up**: a write is accepted into the queue (up to the same window) and reaches TCP at its
//!   time; `flush` and `shutdown` wait until the queue is empty, so an FTP command is on its way
//!   when the client waits for the reply.
//!
//! Every connection pays its TCP handshake here, by construction: [`FieldSocket`]'s constructors
//! ask the link for it ([`super::link::Link::handshake`]), and until then nothing moves — the
//! module's bytes wait to be written, the peer's to be read. The end that opened the connection
//! may send after one round trip, the other half a round trip later; so a server that speaks
//! first (an FTP greeting) is heard two round trips after the module connected. A flush before
//! anything was written waits for the connection to be up ([`FieldSocket::established_at`]): the
//! FTP engine does that with a new data connection before it sends the command that uses it, as
//! a client whose `connect()` blocks would.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ftp_client::{BoxSocket, SocketLayer, SocketRole};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::Field;
use super::events::{Event, Opener};
use super::faults::SocketAction;
use super::link::Direction;
use super::spec::Target;

/// A stream that can be aborted with a reset.
pub trait Abort {
    /// Makes the close that follows a reset (RST), not an orderly FIN.
    fn abort(&self) {}

    /// The local and the remote address, for a trace (none for an in-memory stream).
    fn addresses(&self) -> (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>) {
        (None, None)
    }
}

impl Abort for TcpStream {
    fn abort(&self) {
        // SO_LINGER 0: close() sends RST. The socket is dropped right after, so the
        // blocking-close concern of a nonzero linger does not arise.
        let _ = socket2::SockRef::from(self).set_linger(Some(Duration::ZERO));
    }

    fn addresses(&self) -> (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>) {
        (self.local_addr().ok(), self.peer_addr().ok())
    }
}

impl Abort for tokio::io::DuplexStream {}

/// [`ftp_client::SocketLayer`] for a module: wraps each connection in a [`FieldSocket`].
pub struct FieldLayer(pub Arc<Field>);

impl SocketLayer for FieldLayer {
    fn wrap(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket {
        Box::new(FieldSocket::new(tcp, role, self.0.clone()))
    }

    fn wrap_accepted(&self, tcp: TcpStream, role: SocketRole) -> BoxSocket {
        Box::new(FieldSocket::accepted(tcp, role, self.0.clone()))
    }

    /// A data connection's bytes are the user's file, unless they go under TLS.
    fn wrap_data(&self, tcp: TcpStream, accepted: bool, protected: bool) -> BoxSocket {
        let socket = if accepted {
            FieldSocket::accepted(tcp, SocketRole::Data, self.0.clone())
        } else {
            FieldSocket::new(tcp, SocketRole::Data, self.0.clone())
        };
        Box::new(socket.user_data(!protected))
    }

    /// The FTP control dialogue, into the module's trace.
    fn control_line(&self, sent: bool, line: &str) {
        self.0.events.dialogue("ftp", sent, || line.to_string());
    }

    /// An FTPS handshake, into the module's trace, on the connection it went over.
    fn tls_established(&self, role: SocketRole, tls: &ftp_client::TlsSummary) {
        self.0
            .tls_established(self.0.last_ftp(ftp_target(role)), tls);
    }
}

fn ftp_target(role: SocketRole) -> Target {
    match role {
        SocketRole::Control => Target::FtpControl,
        SocketRole::Data => Target::FtpData,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Open,
    /// Reset: every call fails.
    Reset,
    /// Closed early (FIN): reads end, writes fail.
    Closed,
}

/// A connection under the field's conditions.
pub struct FieldSocket<S> {
    inner: Option<S>,
    /// Which faults act on it: `ftp-control`, `ftp-data` or `socket`.
    target: Target,
    id: u64,
    field: Arc<Field>,
    /// Its bytes are a user's own (FTP data, `+USO*` sockets): `--trace-data` records them.
    /// Not a service's protocol (FTP control, HTTP, MQTT), whose secrets a trace could not mask.
    contents: bool,
    generation: u64,
    health: Health,
    /// Bytes handed to the client plus bytes accepted from it.
    bytes: u64,
    /// Of those, handed to the client (from the peer), and sent on to the peer: a trace's
    /// counters.
    bytes_in: u64,
    bytes_out: u64,
    reported: u64,
    stall_until: Option<Instant>,
    /// The stall's timer, one per direction: a reader and a writer polling from two tasks
    /// (a socket split in halves) each keep their own waker.
    stall_sleep: [Pin<Box<Sleep>>; 2],
    limit: Option<u64>,
    /// A reply line to put in place of the server's next one, and what of that line was read.
    reply: Option<(Vec<u8>, bool)>,
    /// Bytes of a replaced reply still to hand out.
    replaced: Vec<u8>,
    rx: VecDeque<(Instant, Vec<u8>)>,
    rx_queued: usize,
    /// The peer's end of data, when it is to be seen.
    rx_eof: Option<Instant>,
    rx_sleep: Pin<Box<Sleep>>,
    tx: VecDeque<(Instant, Vec<u8>)>,
    tx_queued: usize,
    tx_sleep: Pin<Box<Sleep>>,
    /// The last arrival scheduled each way, so chunks stay in order despite jitter.
    rx_last: Instant,
    tx_last: Instant,
    /// From when the module may send (its handshake is done: [`Self::established_at`]).
    open_up: Instant,
    /// From when the peer's bytes may leave it.
    open_down: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Abort> FieldSocket<S> {
    /// An FTP connection the module opened.
    pub fn new(inner: S, role: SocketRole, field: Arc<Field>) -> Self {
        Self::under(inner, ftp_target(role), Opener::Module, field)
            .user_data(role == SocketRole::Data)
    }

    /// An FTP connection the server opened to the module (active mode's data connection).
    pub fn accepted(inner: S, role: SocketRole, field: Arc<Field>) -> Self {
        Self::under(inner, ftp_target(role), Opener::Peer, field)
            .user_data(role == SocketRole::Data)
    }

    /// A connection the module opened for its socket service (`+USOCO`), HTTP or MQTT: `socket`
    /// faults act on it. Its bytes are a service's protocol unless [`FieldSocket::user_data`]
    /// says otherwise.
    pub fn module_socket(inner: S, field: Arc<Field>) -> Self {
        Self::under(inner, Target::Socket, Opener::Module, field)
    }

    /// A connection a peer opened to one of the module's listening sockets (`+USOLI`): a
    /// user's bytes.
    pub fn module_socket_accepted(inner: S, field: Arc<Field>) -> Self {
        Self::under(inner, Target::Socket, Opener::Peer, field).user_data(true)
    }

    /// Whether the connection carries a user's own bytes, which `--trace-data` records.
    pub fn user_data(mut self, user: bool) -> Self {
        self.contents = user;
        self
    }

    /// The one place a connection is made: its handshake is drawn from the link here, and a
    /// trace hears of it.
    fn under(inner: S, target: Target, opener: Opener, field: Arc<Field>) -> Self {
        let now = Instant::now();
        // The handshake just went over the radio.
        field.radio.activity();
        let handshake = field.link.handshake(now);
        let (open_up, open_down) = match opener {
            Opener::Module => (handshake.opener, handshake.acceptor),
            Opener::Peer => (handshake.acceptor, handshake.opener),
        };
        let id = field.next_socket_id();
        field.opened_ftp(target, id);
        if field.events.on() {
            let (local, remote) = inner.addresses();
            field.events.emit(Event::Open {
                conn: id,
                role: target,
                opener,
                local,
                remote,
            });
        }
        FieldSocket {
            inner: Some(inner),
            target,
            id,
            generation: field.generation(),
            field,
            contents: false,
            health: Health::Open,
            bytes: 0,
            bytes_in: 0,
            bytes_out: 0,
            reported: 0,
            stall_until: None,
            stall_sleep: [
                Box::pin(tokio::time::sleep(Duration::ZERO)),
                Box::pin(tokio::time::sleep(Duration::ZERO)),
            ],
            limit: None,
            reply: None,
            replaced: Vec::new(),
            rx: VecDeque::new(),
            rx_queued: 0,
            rx_eof: None,
            rx_sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            tx: VecDeque::new(),
            tx_queued: 0,
            tx_sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            rx_last: now,
            tx_last: now,
            open_up,
            open_down,
        }
    }

    /// When the connection is up for the module: the handshake's round trip is over and its
    /// first byte may leave. A service waits for it as its `connect()` would.
    pub fn established_at(&self) -> Instant {
        self.open_up
    }

    /// Counts bytes handed to the client or accepted from it: radio activity.
    fn moved(&mut self, n: u64) {
        if n > 0 {
            self.bytes += n;
            self.field.radio.activity();
        }
    }

    /// Bytes handed to the client.
    fn moved_in(&mut self, data: &[u8]) {
        let n = data.len() as u64;
        self.bytes_in += n;
        self.moved(n);
        record(&self.field, self.contents, self.id, true, data);
    }

    /// Bytes that reached the peer's side (recorded by the caller, which holds them in its
    /// send queue: [`record`]).
    fn moved_out(&mut self, n: u64) {
        self.bytes_out += n;
        self.moved(n);
    }

    fn reset(&mut self, cause: &'static str) {
        if let Some(inner) = self.inner.take() {
            inner.abort();
        }
        self.health = Health::Reset;
        self.rx.clear();
        self.tx.clear();
        self.field.events.emit(Event::Reset {
            conn: self.id,
            cause,
        });
    }

    fn close(&mut self) {
        if self.health == Health::Open {
            self.field.events.emit(Event::Cut { conn: self.id });
        }
        // Dropping the stream closes it (FIN) and the server sees the connection end.
        self.inner = None;
        self.health = Health::Closed;
        self.rx.clear();
        self.tx.clear();
    }

    /// Applies what the field says now; `Some` when the call must return at once.
    fn conditions<T>(
        &mut self,
        cx: &mut Context<'_>,
        reading: bool,
    ) -> Option<Poll<io::Result<T>>> {
        if self.health == Health::Open && self.field.generation() != self.generation {
            // The bearer under the connection went away.
            self.reset("bearer");
        }
        if self.health == Health::Open {
            let delta = self.bytes - self.reported;
            self.reported = self.bytes;
            if let Some(action) =
                self.field
                    .faults
                    .socket_event(self.id, self.target, delta, self.bytes)
            {
                match action {
                    SocketAction::Reset => self.reset("fault"),
                    SocketAction::Close => self.close(),
                    // Stalls that meet add up, one after the other.
                    SocketAction::Stall(d) => {
                        let from = self
                            .stall_until
                            .unwrap_or(Instant::now())
                            .max(Instant::now());
                        self.stall_until = Some(from + d);
                    }
                    SocketAction::Limit(n) => self.limit = Some(n),
                    SocketAction::Reply(line) => {
                        let mut line = line.into_bytes();
                        line.extend_from_slice(b"\r\n");
                        self.reply = Some((line, false));
                    }
                }
            }
            if self.limit.is_some_and(|n| self.bytes >= n) {
                self.close();
            }
        }
        match self.health {
            Health::Reset => {
                return Some(Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())));
            }
            Health::Closed | Health::Open => {}
        }
        if let Some(until) = self.stall_until {
            if Instant::now() < until {
                let sleep = &mut self.stall_sleep[usize::from(reading)];
                sleep.as_mut().reset(until);
                if sleep.as_mut().poll(cx).is_pending() {
                    return Some(Poll::Pending);
                }
            }
            self.stall_until = None;
        }
        None
    }

    /// How many more bytes may move before a limit closes the connection.
    fn allowance(&self, want: usize) -> usize {
        match self.limit {
            Some(n) => want.min(n.saturating_sub(self.bytes) as usize),
            None => want,
        }
    }

    fn window(&self, direction: Direction) -> usize {
        let spec = self.field.link.spec();
        let rate = match direction {
            Direction::Down => spec.down,
            Direction::Up => spec.up,
        };
        match rate {
            Some(r) => {
                let bdp = r as f64 * (spec.rtt + spec.jitter).as_secs_f64();
                (bdp as usize).saturating_add(64 * 1024)
            }
            None => 256 * 1024,
        }
    }

    /// True (with a timer set) while the module's side of the handshake is not done. Only a
    /// shaped link has one: unshaped, the connection is up at once.
    fn waits_for_handshake(&mut self, cx: &mut Context<'_>) -> bool {
        if Instant::now() >= self.open_up || self.tx_queued > 0 {
            return false;
        }
        self.tx_sleep.as_mut().reset(self.open_up);
        self.tx_sleep.as_mut().poll(cx).is_pending()
    }

    /// Reads the server's bytes into the down queue, each chunk with its arrival time.
    fn fill_rx(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if Instant::now() < self.open_down {
            // The handshake is not over: the peer cannot have sent anything yet.
            self.rx_sleep.as_mut().reset(self.open_down);
            if self.rx_sleep.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
        }
        let window = self.window(Direction::Down);
        while self.rx_eof.is_none() && self.rx_queued < window {
            let Some(inner) = self.inner.as_mut() else {
                return Ok(());
            };
            let mut chunk = vec![0u8; self.field.link.chunk(Direction::Down)];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    let now = Instant::now();
                    let at = self
                        .field
                        .link
                        .schedule(Direction::Down, n.max(1), now)
                        .max(self.rx_last);
                    self.rx_last = at;
                    if n == 0 {
                        self.rx_eof = Some(at);
                    } else {
                        chunk.truncate(n);
                        self.rx_queued += n;
                        self.rx.push_back((at, chunk));
                    }
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// Writes the up queue's chunks whose time has come; `Ready` when the queue is empty.
    fn drain_tx(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((at, _)) = self.tx.front() {
            let at = *at;
            if Instant::now() < at {
                self.tx_sleep.as_mut().reset(at);
                if self.tx_sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            let Some(inner) = self.inner.as_mut() else {
                self.tx.clear();
                self.tx_queued = 0;
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            };
            let Some((_, data)) = self.tx.front_mut() else {
                break;
            };
            match Pin::new(inner).poll_write(cx, data) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.tx_queued -= n;
                    // Sent bytes count when they reach TCP (limits, after_bytes).
                    record(&self.field, self.contents, self.id, false, &data[..n]);
                    data.drain(..n);
                    if data.is_empty() {
                        self.tx.pop_front();
                    }
                    self.moved_out(n as u64);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads a line from the server and hands out the replacement instead (a `reply` fault).
    /// The line comes from the down queue first (a shaped link may hold it already), at its
    /// time.
    fn poll_replaced(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.replaced.is_empty() {
                let n = self.replaced.len().min(buf.remaining());
                buf.put_slice(&self.replaced[..n]);
                self.replaced.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if self.reply.is_some() && self.field.shaped() && self.rx.is_empty() {
                if let Err(e) = self.fill_rx(cx) {
                    return Poll::Ready(Err(e));
                }
                if self.rx.is_empty() {
                    return Poll::Pending;
                }
            }
            if let Some((at, data)) = self.rx.front_mut() {
                if *at > Instant::now() {
                    let at = *at;
                    self.rx_sleep.as_mut().reset(at);
                    if self.rx_sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    continue;
                }
                let Some((line, _)) = self.reply.take() else {
                    return Poll::Ready(Ok(()));
                };
                match data.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        data.drain(..=i);
                        self.rx_queued -= i + 1;
                        self.replaced = line;
                    }
                    None => {
                        self.rx_queued -= data.len();
                        data.clear();
                        self.reply = Some((line, true));
                    }
                }
                if self.rx.front().is_some_and(|(_, d)| d.is_empty()) {
                    self.rx.pop_front();
                }
                continue;
            }
            let Some((line, _)) = self.reply.take() else {
                return Poll::Ready(Ok(()));
            };
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            let mut byte = [0u8; 1];
            let mut rb = ReadBuf::new(&mut byte);
            match Pin::new(inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    if byte[0] == b'\n' {
                        // The server's line is swallowed whole; ours goes in its place.
                        self.replaced = line;
                    } else {
                        self.reply = Some((line, true));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.reply = Some((line, true));
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Abort> AsyncRead for FieldSocket<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(early) = this.conditions(cx, true) {
            return early;
        }
        if this.health == Health::Closed {
            return Poll::Ready(Ok(()));
        }
        if this.reply.is_some() || !this.replaced.is_empty() {
            let before = buf.filled().len();
            let r = this.poll_replaced(cx, buf);
            this.moved_in(&buf.filled()[before..]);
            return r;
        }
        // Keep the up queue moving while the client waits for the server.
        if !this.tx.is_empty()
            && let Poll::Ready(Err(e)) = this.drain_tx(cx)
        {
            return Poll::Ready(Err(e));
        }
        let want = this.allowance(buf.remaining());
        if want == 0 && buf.remaining() > 0 {
            // The limit is reached: the connection ends here.
            this.close();
            return Poll::Ready(Ok(()));
        }
        if !this.field.shaped() && this.rx.is_empty() && this.rx_eof.is_none() {
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            if want >= buf.remaining() {
                let before = buf.filled().len();
                let r = Pin::new(inner).poll_read(cx, buf);
                this.moved_in(&buf.filled()[before..]);
                return r;
            }
            // A limit allows less than the caller's buffer: read no more than that.
            let mut part = vec![0u8; want];
            let mut rb = ReadBuf::new(&mut part);
            let r = Pin::new(inner).poll_read(cx, &mut rb);
            let n = rb.filled().len();
            buf.put_slice(&part[..n]);
            this.moved_in(&part[..n]);
            return r;
        }
        if let Err(e) = this.fill_rx(cx) {
            return Poll::Ready(Err(e));
        }
        let now = Instant::now();
        if let Some((at, _)) = this.rx.front() {
            if *at <= now {
                let Some((_, data)) = this.rx.front_mut() else {
                    return Poll::Pending;
                };
                let n = data.len().min(want);
                buf.put_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    this.rx.pop_front();
                }
                this.rx_queued -= n;
                let filled = buf.filled();
                this.moved_in(&filled[filled.len() - n..]);
                return Poll::Ready(Ok(()));
            }
            let at = *at;
            this.rx_sleep.as_mut().reset(at);
            return match this.rx_sleep.as_mut().poll(cx) {
                // Woken by the time: the chunk is due now.
                Poll::Ready(()) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Pending => Poll::Pending,
            };
        }
        match this.rx_eof {
            Some(at) if at <= now => Poll::Ready(Ok(())),
            Some(at) => {
                this.rx_sleep.as_mut().reset(at);
                match this.rx_sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Ok(())),
                    Poll::Pending => Poll::Pending,
                }
            }
            None => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Abort> AsyncWrite for FieldSocket<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Some(early) = this.conditions(cx, false) {
            return early;
        }
        if this.health == Health::Closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        // Bytes queued for the link count against a limit already.
        let want = match this.limit {
            Some(n) => buf
                .len()
                .min(n.saturating_sub(this.bytes + this.tx_queued as u64) as usize),
            None => buf.len(),
        };
        if want == 0 {
            // The limit is reached: what is queued still goes, then the connection ends.
            return match this.drain_tx(cx) {
                Poll::Ready(_) => {
                    this.close();
                    Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
                }
                Poll::Pending => Poll::Pending,
            };
        }
        if !this.field.shaped() && this.tx.is_empty() {
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            };
            let r = Pin::new(inner).poll_write(cx, &buf[..want]);
            if let Poll::Ready(Ok(n)) = r {
                record(&this.field, this.contents, this.id, false, &buf[..n]);
                this.moved_out(n as u64);
            }
            return r;
        }
        if this.waits_for_handshake(cx) {
            return Poll::Pending;
        }
        if let Poll::Ready(Err(e)) = this.drain_tx(cx) {
            return Poll::Ready(Err(e));
        }
        if this.tx_queued >= this.window(Direction::Up) {
            return Poll::Pending;
        }
        let n = want.min(this.field.link.chunk(Direction::Up));
        let at = this
            .field
            .link
            .schedule(Direction::Up, n, Instant::now())
            .max(this.tx_last);
        this.tx_last = at;
        this.tx.push_back((at, buf[..n].to_vec()));
        this.tx_queued += n;
        // Start the timer for the new chunk if it is the first.
        let _ = this.drain_tx(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.bytes == 0 && this.tx.is_empty() {
            // Nothing written yet: the client asks whether the connection is up. Faults act
            // from its first byte on, as they did before the handshake was modelled.
            if this.waits_for_handshake(cx) {
                return Poll::Pending;
            }
            return match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_flush(cx),
                None => Poll::Ready(Ok(())),
            };
        }
        if let Some(early) = this.conditions(cx, false) {
            return early;
        }
        match this.drain_tx(cx) {
            Poll::Ready(Ok(())) => match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_flush(cx),
                None => Poll::Ready(Ok(())),
            },
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(early) = this.conditions(cx, false) {
            return early;
        }
        match this.drain_tx(cx) {
            Poll::Ready(Ok(())) => match this.inner.as_mut() {
                Some(inner) => Pin::new(inner).poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            },
            other => other,
        }
    }
}

/// A connection's bytes, into the trace when it records contents (`--trace-data`) and they
/// are a user's own.
fn record(field: &Field, contents: bool, conn: u64, incoming: bool, data: &[u8]) {
    if contents && !data.is_empty() && field.events.contents() {
        field.events.emit(Event::Data {
            conn,
            incoming,
            bytes: data.to_vec(),
        });
    }
}

impl<S> FieldSocket<S> {
    /// The connection's number in a trace (`conn`).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<S> Drop for FieldSocket<S> {
    /// The module let go of the connection: a trace gets its counters.
    fn drop(&mut self) {
        self.field.events.emit(Event::Closed {
            conn: self.id,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        });
    }
}
