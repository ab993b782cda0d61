//! DNS: `+UDNSRN` and the resolver the FTP service shares.
//!
//! The module resolves through the host's resolver, but first consults the `--dns NAME=ADDR`
//! overrides given on the command line, so firmware with hard-coded production host names can be
//! pointed at a test server without touching it. The same [`Dns`] serves `+UDNSRN` and FTP logins.
//!
//! LEXI-R10 advertises only the asynchronous form of `+UDNSRN` (`AT+UDNSRN=?` lists `(1)` for
//! `<async>`), and u-blox's own library sends `AT+UDNSRN=0,"<host>"` and waits for the URC: so an
//! omitted `<async>` means asynchronous, `OK` comes at once and `+UUDNSRN: 0,"<ip>"` follows.
//!
//! The older models (SARA-R4, SARA-R5, SARA-U201; [`crate::module::model::Dns::synchronous`]) answer
//! `AT+UDNSRN=0,"<host>"` themselves once the name is resolved: `+UDNSRN: "<ip>"`, then `OK`.
//! The command waits for the resolver as a direct link waits for the server, through
//! [`crate::module::data_link`], so the terminal holds its URCs meanwhile.

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Response};

pub mod resolver;

pub use resolver::{Dns, Family};

use crate::module::state::Ctx;

/// `<result_code>` of a failed `+UUDNSRN` (the LEXI-R10 error table is not public; see
/// docs/FIDELITY.md).
pub const UUDNSRN_FAILURE: u32 = 8;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    if cmd.name != "+UDNSRN" {
        return None;
    }
    if ctx.shared.model.dns.synchronous && matches!(cmd.kind, CommandKind::Set(_)) {
        return Some(synchronous(ctx, &cmd.kind));
    }
    Some(udnsrn(ctx, &cmd.kind).into())
}

/// `AT+UDNSRN=0,"<host>"` answered with the address: the command waits for the resolver.
fn synchronous(ctx: &Ctx, kind: &CommandKind) -> Outcome {
    let CommandKind::Set(p) = kind else {
        return Outcome::Failed(CommandError::Syntax);
    };
    let host = (|| -> Result<String, CommandError> {
        p.at_most(2)?;
        // Only <resolution_type> 0, name to address; reverse lookups are not emulated.
        if p.req_num(0)? != 0 {
            return Err(CmeError::OperationNotSupported.into());
        }
        host_param(p.req_str(1)?)
    })();
    let host = match host {
        Ok(h) => h,
        Err(e) => return Outcome::Failed(e),
    };
    {
        // The default bearer (cid 1), or a PSD profile's: some context must be up.
        let state = ctx.shared.state();
        if !state.pdp.contexts.values().any(|c| c.active) {
            return Outcome::Failed(CmeError::OperationNotAllowed.into());
        }
    }
    let (port, end) = crate::module::data_link::channel(ubx_at::DataModeFraming::default());
    ctx.link.set(Some(port));
    let shared = ctx.shared.clone();
    tokio::spawn(async move {
        match shared.dns.resolve(&host, Family::V4).await {
            Ok(addrs) if !addrs.is_empty() => {
                let line = format!("+UDNSRN: \"{}\"", addrs[0]);
                end.answer(Response::line(line)).await;
            }
            other => {
                tracing::info!(%host, result = ?other.err(), "+UDNSRN failed");
                end.refuse(SYNC_FAILURE.into()).await;
            }
        }
    });
    Outcome::Pending
}

/// The error of a synchronous `+UDNSRN` that found nothing (docs/FIDELITY.md).
const SYNC_FAILURE: CmeError = CmeError::Unknown;

/// A host name or address parameter.
fn host_param(host: &[u8]) -> Result<String, CommandError> {
    let host = std::str::from_utf8(host)
        .map_err(|_| CmeError::InvalidCharacters)?
        .to_string();
    if host.is_empty() || host.len() > 255 || host.bytes().any(|b| b.is_ascii_control()) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(host)
}

fn udnsrn(ctx: &Ctx, kind: &CommandKind) -> Result<Response, CommandError> {
    let p = match kind {
        CommandKind::Test => return Ok(Response::line(ctx.shared.model.dns.udnsrn_test.as_str())),
        CommandKind::Set(p) => p,
        _ => return Err(CommandError::Syntax),
    };
    p.at_most(5)?;
    if p.req_num(0)? != 0 {
        return Err(CmeError::OperationNotSupported.into());
    }
    let host = p.req_str(1)?;
    if !matches!(p.num(2)?, None | Some(1)) {
        return Err(CmeError::OperationNotSupported.into());
    }
    let cid = p.num(3)?.unwrap_or(1);
    let family = match p.num(4)? {
        None | Some(0) => Family::V4,
        Some(1) => Family::V6,
        Some(_) => return Err(CmeError::OperationNotSupported.into()),
    };
    let host = host_param(host)?;
    {
        let state = ctx.shared.state();
        let cid = u8::try_from(cid)
            .ok()
            .filter(|c| (1..=state.pdp.max_cid).contains(c));
        let cid = cid.ok_or(CmeError::OperationNotSupported)?;
        if state.pdp.active_addrs(cid).is_none() {
            return Err(CmeError::OperationNotAllowed.into());
        }
    }
    let shared = ctx.shared.clone();
    let terminal = ctx.terminal;
    tokio::spawn(async move {
        let urc = match shared.dns.resolve(&host, family).await {
            // LEXI-R10's manual prints IPv6 results in upper case ("FC01:CAFE::1").
            Ok(addrs) if !addrs.is_empty() => {
                format!("+UUDNSRN: 0,\"{}\"", addrs[0].to_string().to_uppercase())
            }
            Ok(_) => format!("+UUDNSRN: {UUDNSRN_FAILURE}"),
            Err(e) => {
                tracing::info!(%host, error = %e, "+UDNSRN failed");
                format!("+UUDNSRN: {UUDNSRN_FAILURE}")
            }
        };
        shared.urc(terminal, urc);
    });
    Ok(Response::ok())
}
