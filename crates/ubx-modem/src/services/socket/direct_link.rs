//! `AT+USODL=<socket>`: the socket's bytes straight through the terminal in transparent data
//! mode, holding the module's one direct link (FTP ops 6/7, `+FREAD`, `+ULSTFILE=0` count
//! against it too). `+++` with its guard times ends it; the peer closing ends it too, and then
//! `+UUSOCL` follows the `DISCONNECT`.

use std::sync::Arc;

use ubx_at::{CmeError, CommandError, Outcome, Params};

use crate::module::data_link::{self, HostGone, LinkEnd};
use crate::module::state::{Ctx, Shared};
use crate::services::socket::buffers::Io;
use crate::services::socket::errors::SocketError;
use crate::services::socket::io::closed_by_peer;
use crate::services::socket::params::{refuse, socket_id, succeeded};
use crate::services::socket::state::{Protocol, Status};
use crate::services::toolkit::arbiter::{DirectLink, Holder};

/// `AT+USODL=<socket>`.
pub(crate) fn start(ctx: &Ctx, p: &Params) -> Outcome {
    let checked = || -> Result<(u8, Arc<Io>, DirectLink), CommandError> {
        p.at_most(1)?;
        let id = socket_id(ctx, p, 0)?;
        let mut state = ctx.shared.state();
        let io = match state.socket.sockets.get(&id) {
            Some(s) if s.protocol == Protocol::Tcp && s.status == Status::Connected => s.io.clone(),
            Some(_) => None,
            None => return Err(refuse(&mut state, Some(id), SocketError::BadSocket)),
        };
        let Some(io) = io else {
            return Err(refuse(&mut state, Some(id), SocketError::NotConnected));
        };
        let holder = Holder {
            service: "socket",
            op: i64::from(id),
        };
        let link = ctx.shared.direct_links.claim(holder).map_err(|taken| {
            tracing::info!(holder = ?taken.0, "socket direct link refused: another is open");
            refuse(&mut state, Some(id), SocketError::WouldBlock);
            CommandError::from(CmeError::OperationNotAllowed)
        })?;
        io.lock().linked = true;
        succeeded(&mut state);
        Ok((id, io, link))
    };
    let (id, io, held) = match checked() {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(e),
    };
    let (port, end) = data_link::channel(ctx.shared.model.ftp.direct_link.framing());
    ctx.link.set(Some(port));
    tracing::info!(socket = id, "socket direct link");
    tokio::spawn(run(ctx.shared.clone(), id, io, end, held));
    Outcome::Pending
}

async fn run(shared: Arc<Shared>, id: u8, io: Arc<Io>, mut link: LinkEnd, held: DirectLink) {
    if link.connected().await {
        shuttle(&io, &mut link, shared.model.sockets.send_buffer).await;
    }
    let (ended, empty) = {
        let mut b = io.lock();
        b.linked = false;
        (b.ended, b.rx.is_empty())
    };
    drop(held);
    // Dropping the link ends data mode: DISCONNECT (and OK, as the model frames it).
    drop(link);
    if ended && empty {
        closed_by_peer(&shared, id, &io);
    }
}

/// Moves bytes both ways until the host leaves or the peer has ended and everything reached
/// the host.
async fn shuttle(io: &Io, link: &mut LinkEnd, send_buffer: usize) {
    // A piece at a time from the receive buffer: toward a UART, a few KiB wait for the line.
    let piece = link.piece().await;
    loop {
        let incoming = io.incoming.notified();
        let (chunk, ended) = {
            let mut b = io.lock();
            let n = b.rx.len().min(piece);
            let chunk: Vec<u8> = b.rx.drain(..n).collect();
            b.read += n as u64;
            (chunk, b.ended)
        };
        if !chunk.is_empty() {
            io.room.notify_one();
            let (mut from_host, mut unsent) = (Vec::new(), Vec::new());
            let sent = link.send_keeping(chunk, &mut from_host, &mut unsent).await;
            if !unsent.is_empty() {
                // The host left before these reached it: they wait in the socket again.
                let mut b = io.lock();
                b.read -= unsent.len() as u64;
                for byte in unsent.into_iter().rev() {
                    b.rx.push_front(byte);
                }
            }
            for data in from_host {
                if !queue(io, data, send_buffer).await {
                    return;
                }
            }
            if sent.is_err() {
                return;
            }
            continue;
        }
        if ended {
            return;
        }
        tokio::select! {
            () = incoming => {}
            received = link.receive() => match received {
                Ok(data) => {
                    if !queue(io, data, send_buffer).await {
                        return;
                    }
                }
                Err(HostGone::Left | HostGone::HungUp) => return,
            },
        }
    }
}

/// Puts the host's bytes in the send buffer, waiting while it is full (a slow peer slows the
/// host). `false` when the connection has failed.
async fn queue(io: &Io, data: Vec<u8>, send_buffer: usize) -> bool {
    loop {
        let drained = io.drained.notified();
        {
            let mut b = io.lock();
            if b.failure.is_some() {
                return false;
            }
            if b.tx.len() < send_buffer {
                b.tx.extend(data);
                drop(b);
                io.outgoing.notify_one();
                return true;
            }
        }
        drained.await;
    }
}
