//! A socket's life: `+USOCR` (create), `+USOCO` (connect, blocking or with `+UUSOCO`),
//! `+USOLI` (listen), `+USOCL` (close, blocking or with `+UUSOCL`), and the bearer going away.

use std::sync::Arc;

use ubx_at::{CommandError, Outcome, Params, Response};

use crate::families::psd;
use crate::module::data_link::{self, LinkEnd};
use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::socket::errors::SocketError;
use crate::services::socket::io;
use crate::services::socket::params::{refuse, socket_id, succeeded};
use crate::services::socket::state::{Protocol, Socket, Status};
use crate::services::toolkit::connect::{Carries, ConnectError, Connection, TlsRequest};

/// The context the socket service's connections use: cid 1 (LEXI-R10's default bearer, the
/// `+UDCONF=19` default), or PSD profile 0's bearer on the models that have PSD profiles.
const SERVICE_CID: u8 = 1;

/// `AT+USOCR=<protocol>[,<local_port>[,<ip_type>]]`.
pub(crate) fn create(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    let model = &ctx.shared.model.sockets;
    p.at_most(if model.local_port { 3 } else { 1 })?;
    let mut state = ctx.shared.state();
    let protocol = match p.req_num(0)? {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        _ => return Err(refuse(&mut state, None, SocketError::Invalid)),
    };
    let local_port = match p.num(1)? {
        None | Some(0) => None,
        Some(port) => match u16::try_from(port) {
            Ok(port) => Some(port),
            Err(_) => return Err(refuse(&mut state, None, SocketError::Invalid)),
        },
    };
    let Some(id) = (0..model.count).find(|i| !state.socket.sockets.contains_key(i)) else {
        return Err(refuse(&mut state, None, SocketError::NoSocketLeft));
    };
    let mut socket = Socket::new(protocol, local_port, ctx.terminal);
    drop(state);
    if protocol == Protocol::Udp {
        // A UDP socket is bound at once: datagrams to it arrive from now on.
        let udp = Connection::for_service(ctx.shared, SERVICE_CID)
            .and_then(|c| c.udp(local_port))
            .map_err(|e| refuse(&mut ctx.shared.state(), None, connect_error(e)))?;
        socket.local_port = udp.local_addr().ok().map(|a| a.port());
        socket.io = Some(io::start_udp(ctx.shared, id, ctx.terminal, udp));
    }
    let mut state = ctx.shared.state();
    state.socket.sockets.insert(id, socket);
    succeeded(&mut state);
    tracing::info!(socket = id, ?protocol, "socket created");
    Ok(Response::line(format!("+USOCR: {id}")))
}

/// The socket error a failed connection stands for.
pub(crate) fn connect_error(e: ConnectError) -> SocketError {
    match e {
        ConnectError::NoBearer => SocketError::Unreachable,
        ConnectError::SecurityProfile | ConnectError::Handshake => SocketError::Tls,
        ConnectError::Unresolved => SocketError::Unresolved,
        ConnectError::Io(kind) => SocketError::from_io(&kind.into()),
    }
}

/// `AT+USOCO=<socket>,<remote_addr>,<remote_port>[,<async_connect>]`.
pub(crate) fn connect(ctx: &Ctx, p: &Params) -> Outcome {
    match connect_checked(ctx, p) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    }
}

fn connect_checked(ctx: &Ctx, p: &Params) -> Result<Outcome, CommandError> {
    p.at_most(if ctx.shared.model.sockets.async_connect {
        4
    } else {
        3
    })?;
    let id = socket_id(ctx, p, 0)?;
    let host = String::from_utf8(p.req_str(1)?.to_vec()).ok();
    let port = u16::try_from(p.req_num(2)?).ok().filter(|port| *port != 0);
    let asynchronous = p.num(3)? == Some(1);
    let mut state = ctx.shared.state();
    let (Some(host), Some(port)) = (host.filter(|h| valid_host(h)), port) else {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    };
    let Some(socket) = state.socket.sockets.get_mut(&id) else {
        return Err(refuse(&mut state, Some(id), SocketError::BadSocket));
    };
    if socket.status != Status::Created {
        let e = if socket.status == Status::Connecting {
            SocketError::WouldBlock
        } else {
            SocketError::AlreadyConnected
        };
        return Err(refuse(&mut state, Some(id), e));
    }
    socket.status = Status::Connecting;
    let request = Request {
        id,
        host,
        port,
        protocol: socket.protocol,
        local_port: socket.local_port,
        secure: socket.secure,
        owner: ctx.terminal,
    };
    drop(state);
    tracing::info!(socket = id, host = %request.host, port, "socket connect");
    if asynchronous {
        tokio::spawn(establish(ctx.shared.clone(), request, None));
        succeeded(&mut ctx.shared.state());
        return Ok(Outcome::Done(Response::ok()));
    }
    // The command waits for the connection; the terminal holds its answer meanwhile.
    let (port, end) = data_link::channel(ctx.shared.model.ftp.direct_link.framing());
    ctx.link.set(Some(port));
    tokio::spawn(establish(ctx.shared.clone(), request, Some(end)));
    Ok(Outcome::Pending)
}

/// A host name or address: printable, at most 253 bytes.
fn valid_host(host: &str) -> bool {
    !host.is_empty() && host.len() <= 253 && !host.chars().any(|c| c.is_control() || c == ' ')
}

/// A connect as asked for.
struct Request {
    id: u8,
    host: String,
    port: u16,
    protocol: Protocol,
    local_port: Option<u16>,
    secure: Option<u8>,
    owner: TerminalId,
}

/// Makes the connection, then answers the command (`end`) or sends `+UUSOCO`.
async fn establish(shared: Arc<Shared>, request: Request, end: Option<LinkEnd>) {
    let outcome = open(&shared, &request).await;
    let (result, start) = settle(&shared, request.id, outcome);
    finish(&shared, &request, end, result).await;
    // Data from the peer is announced after the connect's `OK` or `+UUSOCO`.
    if let Some(start) = start {
        start.read();
    }
}

/// Records what the connect made: the socket connected, or back to created with its error.
fn settle(
    shared: &Shared,
    id: u8,
    outcome: Result<Opened, SocketError>,
) -> (Result<(), (CommandError, u32)>, Option<io::TcpStart>) {
    let mut state = shared.state();
    let still_ours = state
        .socket
        .sockets
        .get(&id)
        .is_some_and(|s| s.status == Status::Connecting);
    match (outcome, still_ours) {
        (Ok(opened), true) => {
            if let Some(socket) = state.socket.sockets.get_mut(&id) {
                socket.status = Status::Connected;
                socket.remote = Some(shared.routes.reverse(opened.remote));
                if let Some(start) = &opened.tcp {
                    socket.io = Some(start.io.clone());
                }
            }
            succeeded(&mut state);
            (Ok(()), opened.tcp)
        }
        (Ok(opened), false) => {
            // Closed while connecting.
            if let Some(start) = opened.tcp {
                start.io.abort();
            }
            let e = SocketError::BadSocket;
            (Err((refuse(&mut state, None, e), e.errno())), None)
        }
        (Err(e), _) => {
            if let Some(socket) = state.socket.sockets.get_mut(&id) {
                socket.status = Status::Created;
            }
            tracing::info!(socket = id, error = ?e, "socket connect failed");
            (Err((refuse(&mut state, Some(id), e), e.errno())), None)
        }
    }
}

async fn finish(
    shared: &Shared,
    request: &Request,
    end: Option<LinkEnd>,
    result: Result<(), (CommandError, u32)>,
) {
    match (end, result) {
        (Some(end), Ok(())) => end.answer(Response::ok()).await,
        (Some(end), Err((e, _))) => end.refuse(e).await,
        (None, Ok(())) => shared.urc(request.owner, format!("+UUSOCO: {},0", request.id)),
        (None, Err((_, errno))) => {
            shared.urc(request.owner, format!("+UUSOCO: {},{errno}", request.id))
        }
    }
}

/// What a connect made.
struct Opened {
    remote: std::net::SocketAddr,
    /// The TCP connection, its reader not started yet; a UDP socket keeps the tasks it has.
    tcp: Option<io::TcpStart>,
}

async fn open(shared: &Arc<Shared>, request: &Request) -> Result<Opened, SocketError> {
    let connection = Connection::for_service(shared, SERVICE_CID).map_err(connect_error)?;
    if request.protocol == Protocol::Udp {
        let remote = connection
            .udp_peer(&request.host, request.port)
            .await
            .map_err(connect_error)?;
        return Ok(Opened { remote, tcp: None });
    }
    let tls = request.secure.map(|profile| TlsRequest {
        profile,
        server: request.host.clone(),
        private_data: false,
    });
    let (stream, remote) = connection
        .tcp(
            &request.host,
            request.port,
            request.local_port,
            tls,
            Carries::UserData,
        )
        .await
        .map_err(connect_error)?;
    let tcp = io::start_tcp(shared, request.id, request.owner, stream);
    Ok(Opened {
        remote,
        tcp: Some(tcp),
    })
}

/// `AT+USOLI=<socket>,<port>`: TCP accepts connections (`+UUSOLI` each), UDP binds the port.
pub(crate) fn listen(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let id = socket_id(ctx, p, 0)?;
    let port = u16::try_from(p.req_num(1)?).ok().filter(|port| *port != 0);
    let mut state = ctx.shared.state();
    let Some(port) = port else {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    };
    let protocol = match state.socket.sockets.get(&id) {
        Some(s) if s.status == Status::Created && s.io.is_none() => s.protocol,
        Some(s) if s.protocol == Protocol::Udp && s.status == Status::Created => {
            return Err(refuse(&mut state, Some(id), SocketError::AddressInUse));
        }
        Some(_) => return Err(refuse(&mut state, Some(id), SocketError::AlreadyConnected)),
        None => return Err(refuse(&mut state, Some(id), SocketError::BadSocket)),
    };
    drop(state);
    let bound = Connection::for_service(ctx.shared, SERVICE_CID).and_then(|c| match protocol {
        Protocol::Tcp => c.listen(port).map(Bound::Tcp),
        Protocol::Udp => c.udp(Some(port)).map(Bound::Udp),
    });
    let io = match bound {
        Ok(Bound::Tcp(listener)) => tokio::net::TcpListener::from_std(listener)
            .map(|l| io::start_listener(ctx.shared, id, ctx.terminal, l))
            .map_err(|e| ConnectError::Io(e.kind())),
        Ok(Bound::Udp(udp)) => Ok(io::start_udp(ctx.shared, id, ctx.terminal, udp)),
        Err(e) => Err(e),
    };
    let mut state = ctx.shared.state();
    let io = io.map_err(|e| refuse(&mut state, Some(id), connect_error(e)))?;
    match state.socket.sockets.get_mut(&id) {
        Some(socket) => {
            socket.status = Status::Listening;
            socket.local_port = Some(port);
            socket.io = Some(io);
        }
        None => io.abort(),
    }
    succeeded(&mut state);
    tracing::info!(socket = id, port, "socket listening");
    Ok(Response::ok())
}

enum Bound {
    Tcp(std::net::TcpListener),
    Udp(tokio::net::UdpSocket),
}

/// `AT+USOCL=<socket>[,<async_close>]`.
pub(crate) fn close(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(if ctx.shared.model.sockets.async_close {
        2
    } else {
        1
    })?;
    let id = socket_id(ctx, p, 0)?;
    let asynchronous = p.num(1)? == Some(1);
    let mut state = ctx.shared.state();
    let Some(socket) = state.socket.sockets.remove(&id) else {
        return Err(refuse(&mut state, Some(id), SocketError::BadSocket));
    };
    succeeded(&mut state);
    drop(state);
    if let Some(io) = socket.io {
        io.close();
    }
    tracing::info!(socket = id, "socket closed");
    if asynchronous {
        ctx.shared.urc(ctx.terminal, format!("+UUSOCL: {id}"));
    }
    Ok(Response::ok())
}

/// After every command and every network fault: a lost bearer closes every socket, each with
/// `+UUSOCL`, as a module does.
pub fn bearer_sync(shared: &Shared) {
    let closed: Vec<(u8, Socket)> = {
        let mut state = shared.state();
        if state.socket.sockets.is_empty() {
            return;
        }
        let up = psd::service_cid(&state, shared.model, SERVICE_CID)
            .and_then(|cid| state.pdp.active_addrs(cid))
            .is_some();
        if up {
            return;
        }
        // Sockets that use the bearer; one only created waits for a bearer to connect over.
        let using: Vec<u8> = state
            .socket
            .sockets
            .iter()
            .filter(|(_, s)| s.io.is_some())
            .map(|(id, _)| *id)
            .collect();
        using
            .into_iter()
            .filter_map(|id| state.socket.sockets.remove(&id).map(|s| (id, s)))
            .collect()
    };
    for (id, socket) in closed {
        if let Some(io) = &socket.io {
            io.abort();
        }
        tracing::info!(socket = id, "socket closed: the bearer is gone");
        shared.urc(socket.owner, format!("+UUSOCL: {id}"));
    }
}
