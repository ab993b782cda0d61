//! Packet switched data: PDP context definitions, activation and addresses, the parameters the
//! network gave an active context (`+CGCONTRDP`), and authentication (`+CGAUTH`, and `+UAUTHREQ`
//! in the model's form).
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

use crate::module::model::CredentialOrder;
use crate::module::state::Ctx;
use crate::module::state::State;

/// The APN the network gives a context defined without one (the default EPS bearer's), as
/// `+CGCONTRDP` reports it (docs/FIDELITY.md).
pub const NETWORK_APN: &str = "ubxftp";

/// Longest `+UAUTHREQ` user name or password (SARA-R4 manual R09 §13.15.3: 64).
const CREDENTIAL_MAX: usize = 64;

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
        "+CGDCONT" | "+CGACT" | "+CGPADDR" | "+CGATT" | "+CGAUTH" | "+UAUTHREQ" | "+CGCONTRDP"
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
        "+UAUTHREQ" => uauthreq(ctx, &cmd.kind),
        "+CGCONTRDP" => cgcontrdp(ctx, &cmd.kind),
        _ => Err(CommandError::Syntax),
    }
}

/// `AT+UAUTHREQ=<cid>,<auth_type>[,<string>,<string>]`, in the model's form
/// ([`crate::module::model::Uauthreq`]): its authentication types, whether the two strings must
/// be given, and which of them is the user name (logged; the password never is). Nothing
/// authenticates against a network here: the command is checked and accepted for a defined,
/// inactive context (SARA-R4 manual R09
/// §13.15: an error for a context that is active or not defined).
fn uauthreq(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let Some(form) = ctx.shared.model.pdp.uauthreq.as_ref() else {
        return Err(CommandError::Syntax);
    };
    let p = match kind {
        CommandKind::Test => return Ok(Response::line(form.test.as_str())),
        CommandKind::Set(p) => p,
        CommandKind::Read | CommandKind::Action => return Err(CommandError::Syntax),
    };
    p.at_most(4)?;
    let cid = cid_param(ctx, p.req_num(0)?)?;
    let auth_type = p.req_num(1)?;
    if !form.auth_types.contains(&auth_type) {
        return Err(CmeError::OperationNotSupported.into());
    }
    let (first, second) = (p.str(2)?, p.str(3)?);
    if first.is_some() != second.is_some() || (form.credentials_required && first.is_none()) {
        return Err(CommandError::Syntax);
    }
    let (user, password) = match form.order {
        CredentialOrder::UserPassword => (first, second),
        CredentialOrder::PasswordUser => (second, first),
    };
    for text in [user, password].into_iter().flatten() {
        if text.len() > CREDENTIAL_MAX {
            return Err(CmeError::TextTooLong.into());
        }
        if text.iter().any(|b| b.is_ascii_control()) {
            return Err(CmeError::InvalidCharacters.into());
        }
    }
    match ctx.shared.state().pdp.contexts.get(&cid) {
        Some(c) if !c.active => {}
        _ => return Err(CmeError::OperationNotAllowed.into()),
    }
    // The log names the user; the password is never written.
    let user = String::from_utf8_lossy(user.unwrap_or_default());
    tracing::info!(cid, auth_type, %user, "context authentication set");
    Ok(Response::ok())
}

/// `+CGCONTRDP[=<cid>]` (3GPP TS 27.007 §10.1.23): the parameters the network gave each active
/// context, one line per address family: `<cid>,<bearer_id>,"<APN>","<address>.<mask>",
/// "<gateway>","<DNS>","<DNS>"`, addresses in dotted decimal.
fn cgcontrdp(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let state = ctx.shared.state();
    let active = |cid: &u8| state.pdp.active_addrs(*cid).is_some();
    match kind {
        CommandKind::Test => {
            let cids: Vec<String> = state
                .pdp
                .contexts
                .keys()
                .filter(|c| active(c))
                .map(u8::to_string)
                .collect();
            Ok(Response::line(format!("+CGCONTRDP: ({})", cids.join(","))))
        }
        CommandKind::Action => Ok(Response::lines(
            state
                .pdp
                .contexts
                .keys()
                .flat_map(|cid| dynamic_params(&state, *cid)),
        )),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            drop(state);
            let cid = cid_param(ctx, p.req_num(0)?)?;
            Ok(Response::lines(dynamic_params(&ctx.shared.state(), cid)))
        }
        CommandKind::Read => Err(CommandError::Syntax),
    }
}

/// The `+CGCONTRDP` lines of `cid`: none unless it is active; IPv4 first.
fn dynamic_params(state: &State, cid: u8) -> Vec<String> {
    let (Some(addrs), Some(context)) = (state.pdp.active_addrs(cid), state.pdp.contexts.get(&cid))
    else {
        return Vec::new();
    };
    let apn = if context.apn.is_empty() {
        NETWORK_APN
    } else {
        context.apn.as_str()
    };
    // EPS bearer ids start at 5 (3GPP TS 24.007 §11.2.3.1.5).
    let head = format!("+CGCONTRDP: {cid},{},\"{apn}\"", u16::from(cid) + 4);
    let mut lines = Vec::new();
    if let Some(v4) = addrs.v4 {
        let [a, b, c, d] = v4.octets();
        lines.push(format!(
            "{head},\"{a}.{b}.{c}.{d}.255.255.255.255\",\"0.0.0.0\",\"0.0.0.0\",\"0.0.0.0\""
        ));
    }
    if let Some(v6) = addrs.v6 {
        let dotted = |bytes: &[u8]| {
            bytes
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(".")
        };
        let mask = [[255u8; 8], [0u8; 8]].concat();
        let zero = dotted(&[0u8; 16]);
        lines.push(format!(
            "{head},\"{}.{}\",\"{zero}\",\"{zero}\",\"{zero}\"",
            dotted(&v6.octets()),
            dotted(&mask)
        ));
    }
    lines
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
