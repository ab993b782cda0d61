//! The module's serial interfaces and what they carry: the profile of settings `AT&V` shows,
//! the interface variant (`+USIO`) and where a GNSS receiver's data goes (`+UGPRF`).
//!
//! None of them changes how the emulated terminals work; they are recorded and read back as a
//! SARA-R5 does, in the forms u-blox's ubxlib parses (docs/FIDELITY.md).

use ubx_at::{CmeError, CommandError, CommandKind, Params, Response};

use crate::module::state::Ctx;

type Reply = Result<Response, CommandError>;

/// The `+UGPRF` bit that sends GNSS data to a server: its port and address follow.
const GNSS_IP: i64 = 8;

/// The longest `+UGPRF` server address (ubxlib's buffer holds 256 bytes with its terminator).
const GNSS_SERVER_MAX: usize = 255;

/// `AT&V`: the active profile, in the lines ubxlib's uCellCfgAutoBaudIsOn() reads: a line
/// `ACTIVE PROFILE:`, a line of the V.250 settings and S-registers, then a line with the
/// character framing, the flow control and the rate (`+IPR:0` under autobauding).
pub(crate) fn profile(ctx: &Ctx, kind: &CommandKind) -> Reply {
    if !matches!(kind, CommandKind::Action) {
        return Err(CommandError::Syntax);
    }
    let s = &ctx.settings;
    let ipr = ctx.shared.state().general.ipr;
    // +IFC <DCE_by_DTE>,<DTE_by_DCE>: 2 RTS/CTS, 1 XON/XOFF, 0 none, as &K sets them.
    let ifc = match s.and_k {
        3 => "2,2",
        4 => "1,1",
        _ => "0,0",
    };
    Ok(Response::lines([
        "ACTIVE PROFILE:".to_string(),
        format!(
            "&C{}, &D{}, &K{}, &S{}, E{}, Q{}, V{}, S2:{:03}, S3:{:03}, S4:{:03}, S5:{:03}",
            s.and_c,
            s.and_d,
            s.and_k,
            s.and_s,
            u8::from(s.echo),
            u8::from(s.quiet),
            u8::from(s.verbose),
            s.s2,
            s.s3,
            s.s4,
            s.s5,
        ),
        format!("+ICF:3,1, +IFC:{ifc}, +IPR:{ipr}"),
    ]))
}

/// `+USIO`: the serial interface variant. The one set is requested: it becomes active at the
/// next reboot (ubxlib marks the module as needing one), and the read shows both,
/// `+USIO: <requested>,*<active>`.
pub(crate) fn usio(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let Some(model) = ctx.shared.model.usio.as_ref() else {
        return Err(CommandError::Syntax);
    };
    match kind {
        CommandKind::Read => {
            let (requested, active) = ctx
                .shared
                .state()
                .general
                .usio
                .unwrap_or((model.factory, model.factory));
            Ok(Response::line(format!("+USIO: {requested},*{active}")))
        }
        CommandKind::Test => Ok(Response::line(model.test.as_str())),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let variant = p.req_num(0)?;
            if !model.values.contains(&variant) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            let active = state.general.usio.map_or(model.factory, |(_, a)| a);
            state.general.usio = Some((variant, active));
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// `+UGPRF=<GNSS_IO_configuration>[,<IP_port>,"<server_addr_str>"]`: a bit map of where GNSS
/// data goes (1 USB or AUX UART, 2 the multiplexer, 4 a file, 8 a server, …); with the IP bit
/// the server's port and address are given and read back, without it none is kept.
pub(crate) fn gnss_profile(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let Some(model) = ctx.shared.model.gnss_profile.as_ref() else {
        return Err(CommandError::Syntax);
    };
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            Ok(Response::line(match &state.general.gnss_profile {
                (bits, Some((port, server))) => format!("+UGPRF: {bits},{port},\"{server}\""),
                (bits, None) => format!("+UGPRF: {bits}"),
            }))
        }
        CommandKind::Test => Ok(Response::line(model.test.as_str())),
        CommandKind::Set(p) => {
            let profile = gnss_set(p, model.max)?;
            ctx.shared.state().general.gnss_profile = profile;
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// The bit map and, with the IP bit, the port and the server (both then required).
fn gnss_set(p: &Params, max: i64) -> Result<(i64, Option<(i64, String)>), CommandError> {
    p.at_most(3)?;
    let bits = p.req_num(0)?;
    let port = p.num(1)?;
    let server = p.str(2)?;
    if !(0..=max).contains(&bits) || port.is_some_and(|port| !(0..=65535).contains(&port)) {
        return Err(CmeError::OperationNotSupported.into());
    }
    if bits & GNSS_IP == 0 {
        return Ok((bits, None));
    }
    let (Some(port), Some(server)) = (port, server) else {
        return Err(CommandError::Syntax);
    };
    if server.is_empty() {
        return Err(CmeError::OperationNotSupported.into());
    }
    if server.len() > GNSS_SERVER_MAX {
        return Err(CmeError::TextTooLong.into());
    }
    let server = std::str::from_utf8(server)
        .ok()
        .filter(|s| !s.chars().any(|c| c.is_control() || c == '"'))
        .ok_or(CmeError::InvalidCharacters)?;
    Ok((bits, Some((port, server.to_string()))))
}
