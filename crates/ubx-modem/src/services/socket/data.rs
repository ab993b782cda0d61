//! Moving data: `+USOWR` (TCP, or UDP to the `+USOCO` peer) and `+USOST` (UDP to an address) in
//! their string, hex and binary (`@`) forms; `+USORD` and `+USORF` to read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ubx_at::{
    Command, CommandError, CommandKind, Outcome, Params, PayloadRequest, Prompt, Response,
};

use crate::module::state::{Ctx, Shared, State};
use crate::services::socket::buffers::Io;
use crate::services::socket::errors::SocketError;
use crate::services::socket::io::{closed_by_peer, udp_urc};
use crate::services::socket::params::{
    data, data_len, hex_mode, refuse, shown, socket_id, succeeded,
};
use crate::services::socket::state::{Protocol, Status};
use crate::services::toolkit::connect::Connection;
use crate::services::toolkit::route::Routes;

/// How long the host may pause inside a binary payload (as `+UDWNFILE`'s).
const PAYLOAD_STALL: Duration = Duration::from_secs(20);

/// Where a write goes.
enum Destination {
    /// The TCP connection's send buffer.
    Stream(Arc<Io>),
    /// A datagram to this address.
    Datagram(Arc<Io>, SocketAddr),
}

/// `AT+USOWR=<socket>,<length>[,<data>]`.
pub(crate) fn write(ctx: &Ctx, cmd: &Command, p: &Params) -> Outcome {
    let checked = || -> Result<Outcome, CommandError> {
        p.at_most(3)?;
        let id = socket_id(ctx, p, 0)?;
        let len = p.req_num(1)?;
        let mut state = ctx.shared.state();
        let binary = !p.present(2);
        let max = max_len(ctx, &state, binary);
        let Some(len) = data_len(len, max) else {
            return Err(refuse(&mut state, Some(id), SocketError::Invalid));
        };
        destination(&mut state, id, None, &ctx.shared.routes)?;
        if binary {
            return Ok(payload(cmd, len));
        }
        let hex = hex_mode(&state);
        let Some(bytes) = data(p.req_str(2)?, len, hex) else {
            return Err(refuse(&mut state, Some(id), SocketError::Invalid));
        };
        send(
            &mut state,
            id,
            None,
            &bytes,
            ctx.shared.model.sockets.send_buffer,
            ctx.shared,
        )
        .map(|r| Outcome::Done(Response::line(format!("+USOWR: {id},{r}"))))
    };
    checked().unwrap_or_else(Outcome::Failed)
}

/// `AT+USOST=<socket>,<remote_addr>,<remote_port>,<length>[,<data>]`.
pub(crate) fn send_to(ctx: &Ctx, cmd: &Command, p: &Params) -> Outcome {
    let checked = || -> Result<Outcome, CommandError> {
        p.at_most(5)?;
        let id = socket_id(ctx, p, 0)?;
        let to = peer(ctx, p)?;
        let len = p.req_num(3)?;
        let mut state = ctx.shared.state();
        let binary = !p.present(4);
        let max = max_len(ctx, &state, binary);
        let (Some(to), Some(len)) = (to, data_len(len, max)) else {
            return Err(refuse(&mut state, Some(id), SocketError::Invalid));
        };
        destination(&mut state, id, Some(to), &ctx.shared.routes)?;
        if binary {
            return Ok(payload(cmd, len));
        }
        let hex = hex_mode(&state);
        let Some(bytes) = data(p.req_str(4)?, len, hex) else {
            return Err(refuse(&mut state, Some(id), SocketError::Invalid));
        };
        send(
            &mut state,
            id,
            Some(to),
            &bytes,
            ctx.shared.model.sockets.send_buffer,
            ctx.shared,
        )
        .map(|r| Outcome::Done(Response::line(format!("+USOST: {id},{r}"))))
    };
    checked().unwrap_or_else(Outcome::Failed)
}

/// `<remote_addr>,<remote_port>` of `+USOST`: an IP address (a name is refused: the command
/// cannot wait for a lookup), routed as every connection is.
fn peer(ctx: &Ctx, p: &Params) -> Result<Option<SocketAddr>, CommandError> {
    let ip = std::str::from_utf8(p.req_str(1)?).ok().and_then(|s| {
        s.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    });
    let port = u16::try_from(p.req_num(2)?).ok().filter(|port| *port != 0);
    Ok(ip
        .zip(port)
        .map(|(ip, port)| ctx.shared.routes.apply(SocketAddr::new(ip, port))))
}

fn max_len(ctx: &Ctx, state: &State, binary: bool) -> usize {
    let model = &ctx.shared.model.sockets;
    if !binary && hex_mode(state) {
        model.max_hex_data
    } else {
        model.max_data
    }
}

/// The binary form: the `@` prompt, then exactly `len` bytes.
fn payload(cmd: &Command, len: usize) -> Outcome {
    Outcome::ExpectPayload(PayloadRequest {
        command: cmd.clone(),
        len,
        prompt: Prompt::At,
        stall_timeout: PAYLOAD_STALL,
    })
}

/// Where socket `id`'s data goes: its connection, or `to` (`+USOST`), or its UDP peer.
fn destination(
    state: &mut State,
    id: u8,
    to: Option<SocketAddr>,
    routes: &Routes,
) -> Result<Destination, CommandError> {
    let found = match state.socket.sockets.get(&id) {
        None => Err(SocketError::BadSocket),
        Some(s) => match (s.protocol, &s.io, to.or(s.remote.map(|r| routes.apply(r)))) {
            (Protocol::Tcp, _, _) if to.is_some() => Err(SocketError::NotSupported),
            (Protocol::Tcp, Some(io), _) if s.status == Status::Connected => {
                Ok(Destination::Stream(io.clone()))
            }
            (Protocol::Tcp, _, _) => Err(SocketError::NotConnected),
            (Protocol::Udp, Some(io), Some(peer)) => Ok(Destination::Datagram(io.clone(), peer)),
            (Protocol::Udp, _, _) => Err(SocketError::NotConnected),
        },
    };
    found.map_err(|e| refuse(state, Some(id), e))
}

/// Hands `bytes` to socket `id`, whose send buffer holds `cap`; returns how many it took.
fn send(
    state: &mut State,
    id: u8,
    to: Option<SocketAddr>,
    bytes: &[u8],
    cap: usize,
    shared: &Shared,
) -> Result<usize, CommandError> {
    let taken = match destination(state, id, to, &shared.routes)? {
        Destination::Stream(io) => {
            let room = {
                let b = io.lock();
                if b.ended || b.failure.is_some() {
                    Err(b.failure.unwrap_or(SocketError::NotConnected))
                } else {
                    Ok(cap.saturating_sub(b.tx.len()))
                }
            };
            let room = room.map_err(|e| refuse(state, Some(id), e))?;
            let n = bytes.len().min(room);
            if n == 0 {
                return Err(refuse(state, Some(id), SocketError::WouldBlock));
            }
            io.lock().tx.extend(&bytes[..n]);
            io.outgoing.notify_one();
            Ok(n)
        }
        Destination::Datagram(io, peer) => match io
            .udp
            .as_ref()
            .map(|u| Connection::send_datagram(u, bytes, peer))
        {
            // The datagram went over the radio: the command's end looks at it (+CSCON).
            Some(Ok(n)) => {
                io.lock().sent += n as u64;
                Ok(n)
            }
            Some(Err(e)) => Err(SocketError::from_io(&e)),
            None => Err(SocketError::NotConnected),
        }
        .map_err(|e| refuse(state, Some(id), e)),
    }?;
    // The bytes go over the radio now: the command's end looks at it (+CSCON).
    shared.field.radio.activity();
    succeeded(state);
    Ok(taken)
}

/// The binary payload of `+USOWR` / `+USOST` arrived.
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, bytes: Vec<u8>) -> Outcome {
    let reply = || -> Result<Response, CommandError> {
        let CommandKind::Set(p) = &request.command.kind else {
            return Err(CommandError::Syntax);
        };
        let id = socket_id(ctx, p, 0)?;
        let mut state = ctx.shared.state();
        if request.command.name == "+USOST" {
            let Some(to) = peer(ctx, p)? else {
                return Err(refuse(&mut state, Some(id), SocketError::Invalid));
            };
            let n = send(
                &mut state,
                id,
                Some(to),
                &bytes,
                ctx.shared.model.sockets.send_buffer,
                ctx.shared,
            )?;
            return Ok(Response::line(format!("+USOST: {id},{n}")));
        }
        let n = send(
            &mut state,
            id,
            None,
            &bytes,
            ctx.shared.model.sockets.send_buffer,
            ctx.shared,
        )?;
        Ok(Response::line(format!("+USOWR: {id},{n}")))
    };
    reply().into()
}

/// `AT+USORD=<socket>,<length>`.
pub(crate) fn read(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let id = socket_id(ctx, p, 0)?;
    let wanted = p.req_num(1)?;
    let mut state = ctx.shared.state();
    let hex = hex_mode(&state);
    let max = if hex {
        ctx.shared.model.sockets.max_hex_data
    } else {
        ctx.shared.model.sockets.max_data
    };
    let Some(wanted) = usize::try_from(wanted).ok().filter(|n| *n <= max) else {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    };
    let Some(io) = state.socket.sockets.get(&id).and_then(|s| s.io.clone()) else {
        let e = if state.socket.sockets.contains_key(&id) {
            SocketError::NotConnected
        } else {
            SocketError::BadSocket
        };
        return Err(refuse(&mut state, Some(id), e));
    };
    succeeded(&mut state);
    drop(state);
    let (data, rest, ended, is_datagram) = take(&io, wanted);
    if wanted == 0 {
        return Ok(Response::line(format!("+USORD: {id},{}", rest)));
    }
    let mut line = format!("+USORD: {id},{},\"", data.len()).into_bytes();
    line.extend(shown(&data, hex));
    line.push(b'"');
    after_read(ctx, id, &io, rest, ended, is_datagram);
    Ok(Response::line(line))
}

/// Takes up to `wanted` bytes (`0`: none, only the count): from a TCP stream, or the first
/// datagram. Returns the bytes, what still waits, whether the peer has ended, and whether it
/// was a datagram.
fn take(io: &Io, wanted: usize) -> (Vec<u8>, usize, bool, bool) {
    let mut b = io.lock();
    if wanted == 0 {
        return (Vec::new(), b.available(), b.ended, false);
    }
    if let Some(datagram) = b.datagrams.pop_front() {
        b.datagram_bytes -= datagram.data.len();
        // The rest of a datagram read in part is gone, as with a BSD socket.
        let mut data = datagram.data;
        data.truncate(wanted);
        b.read += data.len() as u64;
        return (data, b.available(), b.ended, true);
    }
    let n = wanted.min(b.rx.len());
    let data: Vec<u8> = b.rx.drain(..n).collect();
    b.read += n as u64;
    drop(b);
    io.room.notify_one();
    let b = io.lock();
    (data, b.available(), b.ended, false)
}

/// After a read: announce what still waits, or the peer's close once everything was read.
fn after_read(ctx: &Ctx, id: u8, io: &Arc<Io>, rest: usize, ended: bool, datagram: bool) {
    if rest > 0 {
        let urc = if datagram {
            let next = io.lock().datagrams.front().map_or(rest, |d| d.data.len());
            udp_urc(ctx.shared, id, next)
        } else {
            format!("+UUSORD: {id},{rest}")
        };
        ctx.shared.urc(ctx.terminal, urc);
    } else if ended {
        closed_by_peer(ctx.shared, id, io);
    }
}

/// `AT+USORF=<socket>,<length>`: one datagram, with where it came from.
pub(crate) fn read_from(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let id = socket_id(ctx, p, 0)?;
    let wanted = p.req_num(1)?;
    let mut state = ctx.shared.state();
    let hex = hex_mode(&state);
    let max = ctx.shared.model.sockets.max_data;
    let io = match state.socket.sockets.get(&id) {
        Some(s) if s.protocol == Protocol::Udp => s.io.clone(),
        Some(_) => return Err(refuse(&mut state, Some(id), SocketError::NotSupported)),
        None => return Err(refuse(&mut state, Some(id), SocketError::BadSocket)),
    };
    let (Some(io), Some(wanted)) = (io, usize::try_from(wanted).ok().filter(|n| *n <= max)) else {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    };
    succeeded(&mut state);
    drop(state);
    if wanted == 0 {
        return Ok(Response::line(format!(
            "+USORF: {id},{}",
            io.lock().available()
        )));
    }
    let datagram = {
        let mut b = io.lock();
        let d = b.datagrams.pop_front();
        if let Some(d) = &d {
            b.datagram_bytes -= d.data.len();
            b.read += d.data.len().min(wanted) as u64;
        }
        d
    };
    let Some(mut datagram) = datagram else {
        return Ok(Response::line(format!("+USORF: {id},\"\",0,0,\"\"")));
    };
    datagram.data.truncate(wanted);
    let mut line = format!(
        "+USORF: {id},\"{}\",{},{},\"",
        datagram.from.ip(),
        datagram.from.port(),
        datagram.data.len()
    )
    .into_bytes();
    line.extend(shown(&datagram.data, hex));
    line.push(b'"');
    if let Some(next) = io.lock().datagrams.front().map(|d| d.data.len()) {
        ctx.shared.urc(ctx.terminal, udp_urc(ctx.shared, id, next));
    }
    Ok(Response::line(line))
}
