//! A socket's I/O tasks: the reader and the writer of a TCP connection, the receiver of a UDP
//! socket, the accept loop of a listening one. They move bytes between the network and the
//! socket's [`Io`] buffers and tell the socket's terminal by URC: `+UUSORD` / `+UUSORF` when
//! data waits, `+UUSOCL` when the peer has closed and the host has read everything,
//! `+UUSOLI` for each connection a listening socket accepts.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, UdpSocket};
use ubx_field::Field;

use crate::families::network::rrc;
use crate::module::ids::TerminalId;
use crate::module::state::Shared;
use crate::services::socket::buffers::{Datagram, Io};
use crate::services::socket::errors::SocketError;
use crate::services::socket::state::{Protocol, Socket, Status};
use crate::services::toolkit::connect::{Connection, ServiceStream};

/// How long a close waits for the peer to take what the host wrote.
const CLOSE_FLUSH: Duration = Duration::from_secs(10);

/// Largest read from the network at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A connected TCP socket whose writer runs and whose reader waits for [`TcpStart::read`]: the
/// socket's [`Io`] is stored in its state and the host told it is connected (`OK`,
/// `+UUSOCO`, `+UUSOLI`) first, so no `+UUSORD` comes before them, and no `+USORD` after one
/// finds the socket without its buffers.
pub(crate) struct TcpStart {
    pub(crate) io: Arc<Io>,
    shared: Weak<Shared>,
    id: u8,
    owner: TerminalId,
    rd: ReadHalf<Box<dyn ServiceStream>>,
    cap: usize,
}

/// Starts the writer of a connected TCP socket; its reader starts with [`TcpStart::read`].
pub(crate) fn start_tcp(
    shared: &Arc<Shared>,
    id: u8,
    owner: TerminalId,
    stream: Box<dyn ServiceStream>,
) -> TcpStart {
    let io = Arc::new(Io::default());
    let (rd, wr) = tokio::io::split(stream);
    let writer = tokio::spawn(write_tcp(Arc::downgrade(shared), id, io.clone(), wr));
    io.keep_writer(writer.abort_handle());
    TcpStart {
        io,
        shared: Arc::downgrade(shared),
        id,
        owner,
        rd,
        cap: shared.model.sockets.receive_buffer,
    }
}

impl TcpStart {
    /// Starts reading from the network, unless the host closed the socket meanwhile.
    pub(crate) fn read(self) {
        if self.io.lock().closing {
            return;
        }
        let reader = tokio::spawn(read_tcp(
            self.shared,
            self.id,
            self.owner,
            self.io.clone(),
            self.rd,
            self.cap,
        ));
        self.io.keep(reader.abort_handle());
    }
}

async fn read_tcp(
    shared: Weak<Shared>,
    id: u8,
    owner: TerminalId,
    io: Arc<Io>,
    mut rd: ReadHalf<Box<dyn ServiceStream>>,
    cap: usize,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let failure = loop {
        let room = loop {
            let notified = io.room.notified();
            let room = cap.saturating_sub(io.lock().rx.len());
            if room > 0 {
                break room;
            }
            notified.await;
        };
        let n = match rd.read(&mut buf[..room.min(READ_CHUNK)]).await {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) => break Some(SocketError::from_io(&e)),
        };
        let announce = {
            let mut b = io.lock();
            let was_empty = b.rx.is_empty();
            b.rx.extend(&buf[..n]);
            (was_empty && !b.linked).then(|| b.rx.len())
        };
        io.incoming.notify_one();
        if let (Some(total), Some(shared)) = (announce, shared.upgrade()) {
            // The signalling connection's report (+CSCON) comes before the data's.
            rrc::activity(&shared);
            shared.urc(owner, format!("+UUSORD: {id},{total}"));
        }
    };
    let drained = {
        let mut b = io.lock();
        b.ended = true;
        b.failure = failure;
        b.rx.is_empty() && !b.linked
    };
    io.incoming.notify_one();
    if let (true, Some(shared)) = (drained, shared.upgrade()) {
        closed_by_peer(&shared, id, &io);
    }
}

async fn write_tcp(
    shared: Weak<Shared>,
    id: u8,
    io: Arc<Io>,
    mut wr: WriteHalf<Box<dyn ServiceStream>>,
) {
    loop {
        let notified = io.outgoing.notified();
        let (chunk, closing) = {
            let mut b = io.lock();
            let n = b.tx.len().min(READ_CHUNK);
            (b.tx.drain(..n).collect::<Vec<u8>>(), b.closing)
        };
        if chunk.is_empty() {
            if closing {
                let _ = tokio::time::timeout(CLOSE_FLUSH, wr.shutdown()).await;
                return;
            }
            notified.await;
            continue;
        }
        let written = if closing {
            tokio::time::timeout(CLOSE_FLUSH, wr.write_all(&chunk))
                .await
                .unwrap_or(Err(std::io::ErrorKind::TimedOut.into()))
        } else {
            wr.write_all(&chunk).await
        };
        match written {
            Ok(()) => io.lock().sent += chunk.len() as u64,
            Err(e) => {
                // The connection is gone (a reset, a fault): the reader stops too, and the host
                // hears +UUSOCL once it has read what arrived before.
                let drained = {
                    let mut b = io.lock();
                    b.failure.get_or_insert(SocketError::from_io(&e));
                    b.tx.clear();
                    b.ended = true;
                    b.rx.is_empty() && !b.linked && !b.closing
                };
                io.close();
                io.incoming.notify_one();
                if let (true, Some(shared)) = (drained, shared.upgrade()) {
                    closed_by_peer(&shared, id, &io);
                }
                return;
            }
        }
        io.drained.notify_one();
    }
}

/// The peer closed and the host has read everything: `+UUSOCL`, and the socket is gone.
pub(crate) fn closed_by_peer(shared: &Shared, id: u8, io: &Arc<Io>) {
    let owner = {
        let mut state = shared.state();
        let same = state
            .socket
            .sockets
            .get(&id)
            .and_then(|s| s.io.as_ref())
            .is_some_and(|other| Arc::ptr_eq(other, io));
        if !same {
            return;
        }
        state.socket.sockets.remove(&id).map(|s| s.owner)
    };
    io.close();
    if let Some(owner) = owner {
        tracing::info!(socket = id, "socket closed by the peer");
        shared.urc(owner, format!("+UUSOCL: {id}"));
    }
}

/// Starts the receiver of a bound UDP socket.
pub(crate) fn start_udp(
    shared: &Arc<Shared>,
    id: u8,
    owner: TerminalId,
    udp: UdpSocket,
) -> Arc<Io> {
    let udp = Arc::new(udp);
    let io = Arc::new(Io::new(Some(udp.clone())));
    let cap = shared.model.sockets.receive_buffer;
    let task = tokio::spawn(receive_udp(
        Arc::downgrade(shared),
        id,
        owner,
        io.clone(),
        udp,
        cap,
    ));
    io.keep(task.abort_handle());
    io
}

async fn receive_udp(
    shared: Weak<Shared>,
    id: u8,
    owner: TerminalId,
    io: Arc<Io>,
    udp: Arc<UdpSocket>,
    cap: usize,
) {
    let mut buf = vec![0u8; 65536];
    let Some(routes) = shared.upgrade().map(|s| s.routes.clone()) else {
        return;
    };
    loop {
        let (n, from) = match udp.recv_from(&mut buf).await {
            Ok(v) => v,
            // An ICMP error of an earlier send; the socket goes on.
            Err(_) => continue,
        };
        let first = {
            let mut b = io.lock();
            if b.datagram_bytes + n > cap {
                tracing::debug!(socket = id, n, "receive buffer full: datagram dropped");
                continue;
            }
            b.datagrams.push_back(Datagram {
                from: routes.reverse(from),
                data: buf[..n].to_vec(),
            });
            b.datagram_bytes += n;
            b.datagrams.len() == 1
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        // A datagram came over the radio (+CSCON, reported before the data's URC).
        rrc::activity(&shared);
        if first {
            shared.urc(owner, udp_urc(&shared, id, n));
        }
    }
}

/// The URC of a datagram of `n` bytes waiting: `+UUSORD` on a UDP socket with a peer set by
/// `+USOCO`, `+UUSORF` otherwise.
pub(crate) fn udp_urc(shared: &Shared, id: u8, n: usize) -> String {
    let connected = shared
        .state()
        .socket
        .sockets
        .get(&id)
        .is_some_and(|s| s.status == Status::Connected);
    if connected {
        format!("+UUSORD: {id},{n}")
    } else {
        format!("+UUSORF: {id},{n}")
    }
}

/// Starts the accept loop of a listening TCP socket.
pub(crate) fn start_listener(
    shared: &Arc<Shared>,
    id: u8,
    owner: TerminalId,
    listener: TcpListener,
) -> Arc<Io> {
    let io = Arc::new(Io::default());
    let field = shared.field.clone();
    let task = tokio::spawn(accept(Arc::downgrade(shared), id, owner, listener, field));
    io.keep(task.abort_handle());
    io
}

async fn accept(
    shared: Weak<Shared>,
    listening: u8,
    owner: TerminalId,
    listener: TcpListener,
    field: Arc<Field>,
) {
    let local = listener.local_addr().ok();
    while let Ok((tcp, peer)) = listener.accept().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let id = {
            let mut state = shared.state();
            let count = shared.model.sockets.count;
            let Some(id) = (0..count).find(|i| !state.socket.sockets.contains_key(i)) else {
                tracing::info!(%peer, "incoming connection refused: every socket is in use");
                continue;
            };
            let mut socket = Socket::new(Protocol::Tcp, local.map(|a| a.port()), owner);
            socket.status = Status::Connected;
            socket.remote = Some(peer);
            state.socket.sockets.insert(id, socket);
            id
        };
        let (local_ip, local_port) =
            local.map_or((String::new(), 0), |a| (a.ip().to_string(), a.port()));
        let start = start_tcp(&shared, id, owner, Connection::accepted(&field, tcp));
        match shared.state().socket.sockets.get_mut(&id) {
            Some(socket) => socket.io = Some(start.io.clone()),
            None => {
                start.io.abort();
                continue;
            }
        }
        // +UUSOLI first: what the peer sends is announced after it.
        shared.urc(owner, uusoli(id, peer, listening, &local_ip, local_port));
        start.read();
    }
}

fn uusoli(id: u8, peer: SocketAddr, listening: u8, local_ip: &str, local_port: u16) -> String {
    format!(
        "+UUSOLI: {id},\"{}\",{},{listening},\"{local_ip}\",{local_port}",
        peer.ip(),
        peer.port()
    )
}
