//! A socket's errors, state and options: `+USOER`, `+USOCTL`, `+USOSO` / `+USOGO`, and
//! `+USOSEC` (TLS through a `+USECPRF` profile, as FTPS has it).

use ubx_at::{CommandError, Params, Response};

use crate::families::security::state::PROFILES;
use crate::module::state::Ctx;
use crate::services::socket::errors::SocketError;
use crate::services::socket::params::{refuse, socket_id, succeeded};
use crate::services::socket::state::{Protocol, Status};

/// `AT+USOER`: the errno of the last socket operation.
pub(crate) fn last_error(ctx: &Ctx) -> Response {
    Response::line(format!("+USOER: {}", ctx.shared.state().socket.last_error))
}

/// `AT+USOCTL=<socket>,<param_id>`.
pub(crate) fn control(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let id = socket_id(ctx, p, 0)?;
    let param = p.req_num(1)?;
    let mut state = ctx.shared.state();
    let Some(socket) = state.socket.sockets.get(&id) else {
        return Err(refuse(&mut state, Some(id), SocketError::BadSocket));
    };
    let (sent, read, unacked, ended) = socket.io.as_ref().map_or((0, 0, 0, false), |io| {
        let b = io.lock();
        (b.sent, b.read, b.tx.len(), b.ended)
    });
    let value = match param {
        0 => socket.protocol.number().to_string(),
        1 => socket.last_error.to_string(),
        2 => sent.to_string(),
        3 => read.to_string(),
        4 => match socket.remote {
            Some(addr) => format!("\"{}\",{}", addr.ip(), addr.port()),
            None => "\"0.0.0.0\",0".to_string(),
        },
        10 if socket.protocol == Protocol::Tcp => {
            // RFC 793's states as the manual numbers them.
            let tcp_state = match (socket.status, ended) {
                (Status::Created, _) => 0,
                (Status::Listening, _) => 1,
                (Status::Connecting, _) => 2,
                (Status::Connected, false) => 4,
                (Status::Connected, true) => 7,
            };
            tcp_state.to_string()
        }
        11 if socket.protocol == Protocol::Tcp => unacked.to_string(),
        _ => return Err(refuse(&mut state, Some(id), SocketError::Invalid)),
    };
    succeeded(&mut state);
    Ok(Response::line(format!("+USOCTL: {id},{param},{value}")))
}

/// `(level, option)` of `+USOSO` / `+USOGO`.
type OptionKey = (i64, i64);
/// The values an option takes, inclusive.
type ValueRange = (i64, i64);

/// The options `+USOSO` takes, by (level, option), with how many values and their ranges:
/// IP TOS and TTL; TCP no-delay, keep-idle, keep-interval, keep-count; socket reuse-address,
/// keep-alive, broadcast, linger (`<on>,<seconds>`) and reuse-port (internet-suite.md §2.9).
const OPTIONS: &[(OptionKey, ValueRange)] = &[
    ((0, 1), (0, 255)),
    ((0, 2), (1, 255)),
    ((6, 1), (0, 1)),
    ((6, 2), (1, 7_200_000)),
    ((6, 4), (1, 7_200_000)),
    ((6, 5), (1, 255)),
    ((65535, 4), (0, 1)),
    ((65535, 8), (0, 1)),
    ((65535, 0x20), (0, 1)),
    ((65535, 0x80), (0, 1)),
    ((65535, 0x200), (0, 1)),
];

/// What `+USOGO` reads for an option never set.
fn factory(key: (i64, i64)) -> Vec<i64> {
    match key {
        (0, 2) => vec![64],
        (6, 2) => vec![7_200_000],
        (6, 4) => vec![75_000],
        (6, 5) => vec![9],
        (65535, 0x80) => vec![0],
        _ => vec![0],
    }
}

/// `AT+USOSO=<socket>,<level>,<opt_name>,<opt_val>[,<opt_val2>]`.
pub(crate) fn set_option(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(5)?;
    let id = socket_id(ctx, p, 0)?;
    let key = (p.req_num(1)?, p.req_num(2)?);
    let value = p.req_num(3)?;
    let second = p.num(4)?;
    let mut state = ctx.shared.state();
    let range = OPTIONS.iter().find(|(k, _)| *k == key).map(|(_, r)| *r);
    let linger = key == (65535, 0x80);
    let valid = range.is_some_and(|(lo, hi)| (lo..=hi).contains(&value))
        && match (linger, value, second) {
            (true, 1, Some(secs)) => (0..=32767).contains(&secs),
            (true, 1, None) => false,
            (_, _, None) => true,
            (_, _, Some(_)) => false,
        };
    if !valid {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    }
    let Some(socket) = state.socket.sockets.get_mut(&id) else {
        return Err(refuse(&mut state, Some(id), SocketError::BadSocket));
    };
    let values = match second {
        Some(secs) if linger => vec![value, secs],
        _ => vec![value],
    };
    socket.options.insert(key, values);
    succeeded(&mut state);
    Ok(Response::ok())
}

/// `AT+USOGO=<socket>,<level>,<opt_name>`.
pub(crate) fn get_option(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(3)?;
    let id = socket_id(ctx, p, 0)?;
    let key = (p.req_num(1)?, p.req_num(2)?);
    let mut state = ctx.shared.state();
    if !OPTIONS.iter().any(|(k, _)| *k == key) {
        return Err(refuse(&mut state, Some(id), SocketError::Invalid));
    }
    let Some(socket) = state.socket.sockets.get(&id) else {
        return Err(refuse(&mut state, Some(id), SocketError::BadSocket));
    };
    let values = socket
        .options
        .get(&key)
        .cloned()
        .unwrap_or_else(|| factory(key));
    let text: Vec<String> = values.iter().map(i64::to_string).collect();
    succeeded(&mut state);
    Ok(Response::line(format!("+USOGO: {}", text.join(","))))
}

/// `AT+USOSEC=<socket>,<ssl_tls_status>[,<usecmng_profile_id>]`: before `+USOCO`, TCP only
/// (DTLS is not available: docs/FIDELITY.md).
pub(crate) fn security(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(3)?;
    let id = socket_id(ctx, p, 0)?;
    let status = p.req_num(1)?;
    let profile = p.num(2)?.unwrap_or(0);
    let mut state = ctx.shared.state();
    let profile = match (status, u8::try_from(profile)) {
        (0, _) => None,
        (1, Ok(profile)) if usize::from(profile) < PROFILES => Some(profile),
        _ => return Err(refuse(&mut state, Some(id), SocketError::Invalid)),
    };
    let refused = match state.socket.sockets.get_mut(&id) {
        None => Some(SocketError::BadSocket),
        Some(s) if s.protocol == Protocol::Udp && profile.is_some() => Some(SocketError::NoDtls),
        Some(s) if s.status != Status::Created => Some(SocketError::AlreadyConnected),
        Some(s) => {
            s.secure = profile;
            None
        }
    };
    if let Some(e) = refused {
        return Err(refuse(&mut state, Some(id), e));
    }
    succeeded(&mut state);
    Ok(Response::ok())
}
