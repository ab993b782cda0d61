//! Packet switched data: PDP context definitions, activation and addresses.
//!
//! An LTE module attaches with its default EPS bearer up, so at start cid 1 is defined
//! (`IPV4V6`, empty APN) and active. Its addresses are the host's own: the IPv4 and IPv6 source
//! addresses the host would use for outbound traffic (found by "connecting" a UDP socket, which
//! sends nothing), or the loopback addresses when the host has no route. Every active context
//! gets the same addresses, because every context shares the host's network stack.
//!
//! Deactivating a context (`+CGACT=0`, `+CGATT=0`, `+CFUN=0/4`) is what makes FTP over it fail,
//! which is how tests reproduce a lost bearer.

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Response};

pub mod state;

pub use state::{Context, ContextAddrs, PdpState, PdpType};

use crate::module::state::Ctx;
use crate::module::state::State;

/// Radio off or detach: every context goes down.
pub(crate) fn detach(state: &mut State) {
    state.pdp.attached = false;
    for ctx in state.pdp.contexts.values_mut() {
        ctx.active = false;
    }
}

/// Attach: the default bearer (cid 1) comes up, if it is defined and the model is an LTE one. Not
/// with the radio off, nor while `+COPS=2` keeps the module deregistered.
pub(crate) fn attach(state: &mut State) {
    if state.general.cfun != 1 || state.network.cops_mode == 2 {
        return;
    }
    state.pdp.attached = true;
    if !state.pdp.default_bearer {
        return;
    }
    if let Some(ctx) = state.pdp.contexts.get_mut(&1) {
        ctx.activate();
    }
}

type Reply = Result<Response, CommandError>;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    matches!(
        cmd.name.as_str(),
        "+CGDCONT" | "+CGACT" | "+CGPADDR" | "+CGATT" | "+CGAUTH"
    )
    .then(|| run(ctx, cmd).into())
}

fn run(ctx: &Ctx, cmd: &Command) -> Reply {
    match cmd.name.as_str() {
        "+CGDCONT" => cgdcont(ctx, &cmd.kind),
        "+CGACT" => cgact(ctx, &cmd.kind),
        "+CGPADDR" => cgpaddr(ctx, &cmd.kind),
        "+CGATT" => cgatt(ctx, &cmd.kind),
        // LEXI-R10 authenticates with +CGAUTH (ubxlib); nothing to authenticate against here.
        "+CGAUTH" => match &cmd.kind {
            CommandKind::Set(p) => {
                p.at_most(4)?;
                cid_param(ctx, p.req_num(0)?).map(|_| Response::ok())
            }
            CommandKind::Test => Ok(Response::line(format!(
                "+CGAUTH: (1-{}),(0-2),,",
                ctx.shared.state().pdp.max_cid
            ))),
            CommandKind::Read => Ok(Response::ok()),
            CommandKind::Action => Err(CommandError::Syntax),
        },
        _ => Err(CommandError::Syntax),
    }
}

/// Validates a cid against the model's range.
fn cid_param(ctx: &Ctx, cid: i64) -> Result<u8, CommandError> {
    let max = ctx.shared.state().pdp.max_cid;
    match u8::try_from(cid) {
        Ok(c) if (1..=max).contains(&c) => Ok(c),
        _ => Err(CmeError::OperationNotSupported.into()),
    }
}

fn cgdcont(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            Ok(Response::lines(state.pdp.contexts.iter().map(
                |(cid, c)| {
                    let (pdp_type, apn) = match &c.next {
                        Some((t, apn)) => (*t, apn.as_str()),
                        None => (c.pdp_type, c.apn.as_str()),
                    };
                    let addr = state.pdp.addr_strings(*cid).join(" ");
                    let addr = if addr.is_empty() {
                        "0.0.0.0".to_string()
                    } else {
                        addr
                    };
                    format!(
                        "+CGDCONT: {cid},\"{}\",\"{apn}\",\"{addr}\",0,0",
                        pdp_type.name(),
                    )
                },
            )))
        }
        CommandKind::Test => {
            let max = ctx.shared.state().pdp.max_cid;
            Ok(Response::lines(
                ["IP", "IPV6", "IPV4V6"]
                    .iter()
                    .map(|t| format!("+CGDCONT: (1-{max}),\"{t}\",,,(0),(0)")),
            ))
        }
        CommandKind::Set(p) => {
            p.at_most(6)?;
            let cid = cid_param(ctx, p.req_num(0)?)?;
            let pdp_type = p.str(1)?;
            let apn = p.str(2)?.unwrap_or(b"");
            // <d_comp>, <h_comp> are accepted as 0 only; <PDP_addr> is accepted and ignored (the
            // host decides addresses).
            p.str(3)?;
            for i in 4..6 {
                if !matches!(p.num(i)?, None | Some(0)) {
                    return Err(CmeError::OperationNotSupported.into());
                }
            }
            let mut state = ctx.shared.state();
            let Some(pdp_type) = pdp_type else {
                // `+CGDCONT=<cid>` alone undefines the context; an active one cannot be.
                if state.pdp.contexts.get(&cid).is_some_and(|c| c.active) {
                    return Err(CmeError::OperationNotAllowed.into());
                }
                state.pdp.contexts.remove(&cid);
                return Ok(Response::ok());
            };
            let pdp_type = PdpType::parse(pdp_type).ok_or(CmeError::OperationNotSupported)?;
            if apn.len() > 62 || apn.iter().any(|b| !b.is_ascii_graphic()) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let apn = String::from_utf8_lossy(apn).into_owned();
            if let Some(c) = state.pdp.contexts.get_mut(&cid).filter(|c| c.active) {
                c.next = Some((pdp_type, apn));
                return Ok(Response::ok());
            }
            state.pdp.contexts.insert(
                cid,
                Context {
                    pdp_type,
                    apn,
                    active: false,
                    next: None,
                },
            );
            Ok(Response::ok())
        }
        CommandKind::Action => Ok(Response::ok()),
    }
}

fn cgact(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            Ok(Response::lines(state.pdp.contexts.iter().map(
                |(cid, c)| format!("+CGACT: {cid},{}", u8::from(c.active)),
            )))
        }
        CommandKind::Test => Ok(Response::line("+CGACT: (0,1)")),
        CommandKind::Set(p) => {
            let activate = match p.num(0)? {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(CmeError::OperationNotSupported.into()),
            };
            let mut cids = Vec::new();
            for i in 1..p.len() {
                cids.push(cid_param(ctx, p.req_num(i)?)?);
            }
            let mut state = ctx.shared.state();
            if cids.is_empty() {
                cids = state.pdp.contexts.keys().copied().collect();
            }
            if activate && (state.general.cfun != 1 || state.network.cops_mode == 2) {
                return Err(CmeError::NoNetworkService.into());
            }
            if cids.iter().any(|cid| !state.pdp.contexts.contains_key(cid)) {
                return Err(CmeError::OperationNotAllowed.into());
            }
            if activate {
                state.pdp.attached = true;
            }
            for cid in cids {
                if let Some(c) = state.pdp.contexts.get_mut(&cid) {
                    if activate {
                        c.activate();
                    } else {
                        c.active = false;
                    }
                }
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn cgpaddr(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let line = |state: &State, cid: u8| {
        let mut line = format!("+CGPADDR: {cid}");
        for a in state.pdp.addr_strings(cid) {
            line.push_str(&format!(",\"{a}\""));
        }
        line
    };
    match kind {
        CommandKind::Action => {
            let state = ctx.shared.state();
            Ok(Response::lines(
                state.pdp.contexts.keys().map(|cid| line(&state, *cid)),
            ))
        }
        CommandKind::Set(p) => {
            let mut cids = Vec::new();
            for i in 0..p.len() {
                cids.push(cid_param(ctx, p.req_num(i)?)?);
            }
            let state = ctx.shared.state();
            if cids.iter().any(|cid| !state.pdp.contexts.contains_key(cid)) {
                return Err(CmeError::OperationNotAllowed.into());
            }
            Ok(Response::lines(cids.iter().map(|cid| line(&state, *cid))))
        }
        CommandKind::Test => {
            let state = ctx.shared.state();
            let cids: Vec<String> = state.pdp.contexts.keys().map(u8::to_string).collect();
            Ok(Response::line(format!("+CGPADDR: ({})", cids.join(","))))
        }
        CommandKind::Read => Err(CommandError::Syntax),
    }
}

fn cgatt(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+CGATT: {}",
            u8::from(ctx.shared.state().pdp.attached)
        ))),
        CommandKind::Test => Ok(Response::line("+CGATT: (0,1)")),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let mut state = ctx.shared.state();
            match p.req_num(0)? {
                0 => detach(&mut state),
                1 if state.general.cfun == 1 => {
                    // An explicit attach registers again after `+COPS=2` (automatic mode).
                    if state.network.cops_mode == 2 {
                        state.network.cops_mode = 0;
                    }
                    attach(&mut state)
                }
                1 => return Err(CmeError::NoNetworkService.into()),
                _ => return Err(CmeError::OperationNotSupported.into()),
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}
