//! Packet switched data profiles: `+UPSD`, `+UPSDA`, `+UPSND`, and the URCs `+UUPSDA` and
//! `+UUPSDD`, on the models whose drivers bring their bearer up through them.
//!
//! u-blox's older modules carry their internet services (FTP, DNS, sockets) over a *PSD profile*
//! rather than a `+CGDCONT` context. The model says which style it has ([`PsdStyle`]):
//!
//! - **Full profiles** (SARA-U201): a profile holds an APN, credentials, an authentication type
//!   and a static address, and `AT+UPSDA=<p>,3` brings up a bearer of its own. Here that bearer
//!   is a PDP context the module defines at activation, on the first free cid, so `+CGDCONT?`,
//!   `+CGACT?` and `+CGPADDR` show it as they show any other, and when it goes down
//!   (`+CGACT=0`, `+CGATT=0`, `+CFUN=0/4`) the profile goes down with it and is reported with
//!   `+UUPSDD: <p>`.
//! - **Map to a cid** (SARA-R5): a profile only points at a context (`AT+UPSD=<p>,100,<cid>`);
//!   activating it activates that context. Parameters that belong to the context (APN aside,
//!   credentials, static IP) are refused.
//!
//! Either way the FTP service of such a model goes over profile 0's bearer
//! ([`service_cid`]); `+UFTP=20` does not exist there. docs/FIDELITY.md lists the choices made
//! where the vendor text was not found.

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

pub mod state;

pub use state::{Profile, PsdState, Slot};

use crate::families::pdp::Context;
use crate::module::model::{Model, PsdStyle};
use crate::module::state::Ctx;
use crate::module::state::Shared;
use crate::module::state::State;

/// Every parameter tag any model knows; a model accepts [`Model::psd`]'s subset. A tag known
/// here but not to the model is `operation not allowed` (SparkFun: "not allowed on SARA-R5"), an
/// unknown one `operation not supported`.
const KNOWN_TAGS: &[i64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100];

/// Longest APN (SARA-R4 manual: 99 characters), user name and password.
const MAX_APN: usize = 99;
const MAX_CREDENTIAL: usize = 64;

/// The cid the module's internet services (FTP) go over: `fallback` (`+UFTP=20`'s) on a model
/// without PSD profiles, otherwise profile 0's bearer while it is active.
pub(crate) fn service_cid(state: &State, model: &Model, fallback: u8) -> Option<u8> {
    match model.psd.style {
        PsdStyle::None => Some(fallback),
        PsdStyle::Profiles | PsdStyle::MapToCid => state.psd.slots.first()?.bearer,
    }
}

/// Whether the FTP service's bearer (`+UFTP=20`'s cid, or PSD profile 0's) is up.
pub(crate) fn ftp_bearer_up(state: &State, model: &Model) -> bool {
    service_cid(state, model, state.ftp.profile.cid)
        .and_then(|cid| state.pdp.active_addrs(cid))
        .is_some()
}

/// Notices profiles whose bearer went down (the radio off, a detach, `+CGACT=0`, a fault) and
/// reports each with `+UUPSDD: <p>` on every terminal. Run after every command.
pub(crate) fn sync(shared: &Shared) {
    let lost: Vec<usize> = {
        let mut state = shared.state();
        let State { psd, pdp, .. } = &mut *state;
        let mut lost = Vec::new();
        for (id, slot) in psd.slots.iter_mut().enumerate() {
            let Some(cid) = slot.bearer else { continue };
            if pdp.active_addrs(cid).is_none() {
                slot.bearer = None;
                if shared.model.psd.style == PsdStyle::Profiles {
                    // The module defined this context for the profile; it goes with it.
                    pdp.contexts.remove(&cid);
                }
                lost.push(id);
            }
        }
        lost
    };
    for id in lost {
        shared.broadcast(format!("+UUPSDD: {id}"));
    }
}

/// After a reboot: every profile inactive, with what was stored, and the contexts the module
/// defined for them gone.
pub(crate) fn reboot(state: &mut State, model: &Model) {
    let State { psd, pdp, .. } = state;
    for slot in &mut psd.slots {
        if let Some(cid) = slot.bearer.take()
            && model.psd.style == PsdStyle::Profiles
        {
            pdp.contexts.remove(&cid);
        }
        slot.profile = slot.stored.clone();
    }
}

type Reply = Result<Response, CommandError>;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let reply = match cmd.name.as_str() {
        "+UPSD" => upsd(ctx, &cmd.kind),
        "+UPSDA" => return Some(upsda(ctx, &cmd.kind)),
        "+UPSND" => upsnd(ctx, &cmd.kind),
        _ => return None,
    };
    Some(reply.into())
}

fn not_supported() -> CommandError {
    CmeError::OperationNotSupported.into()
}

fn not_allowed() -> CommandError {
    CmeError::OperationNotAllowed.into()
}

/// The profile id parameter, checked against the model's number of profiles.
fn profile_id(ctx: &Ctx, p: &Params) -> Result<usize, CommandError> {
    let id = p.req_num(0)?;
    usize::try_from(id)
        .ok()
        .filter(|id| *id < usize::from(ctx.shared.model.psd.profiles))
        .ok_or_else(not_supported)
}

/// A tag the model accepts.
fn tag(ctx: &Ctx, tag: i64) -> Result<i64, CommandError> {
    if ctx.shared.model.psd.params.contains(&tag) {
        Ok(tag)
    } else if KNOWN_TAGS.contains(&tag) {
        Err(not_allowed())
    } else {
        Err(not_supported())
    }
}

fn text(p: &Params, i: usize, max: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    if raw.len() > max {
        return Err(CmeError::TextTooLong.into());
    }
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(s.to_string())
}

fn ipv4_text(p: &Params, i: usize) -> Result<String, CommandError> {
    let s = text(p, i, 15)?;
    s.parse::<std::net::Ipv4Addr>()
        .map_err(|_| not_supported())?;
    Ok(s)
}

fn number(p: &Params, i: usize, max: i64) -> Result<i64, CommandError> {
    match p.req_num(i)? {
        v if (0..=max).contains(&v) => Ok(v),
        _ => Err(not_supported()),
    }
}

fn upsd(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let model = ctx.shared.model;
    match kind {
        CommandKind::Test => {
            let tags: Vec<String> = model.psd.params.iter().map(i64::to_string).collect();
            Ok(Response::line(format!(
                "+UPSD: (0-{}),({})",
                model.psd.profiles.saturating_sub(1),
                tags.join(",")
            )))
        }
        CommandKind::Set(p) => {
            p.at_most(3)?;
            let id = profile_id(ctx, p)?;
            let Some(t) = p.num(1)? else {
                // `AT+UPSD=<p>`: every parameter the model has, the password left out.
                let state = ctx.shared.state();
                let profile = &state.psd.slots[id].profile;
                return Ok(Response::lines(model.psd.params.iter().filter_map(|t| {
                    profile.value(*t).map(|v| format!("+UPSD: {id},{t},{v}"))
                })));
            };
            let t = tag(ctx, t)?;
            if p.len() < 3 {
                // `AT+UPSD=<p>,<tag>`: one value.
                let state = ctx.shared.state();
                let value = state.psd.slots[id]
                    .profile
                    .value(t)
                    .ok_or_else(not_allowed)?;
                return Ok(Response::line(format!("+UPSD: {id},{t},{value}")));
            }
            let max_cid = i64::from(ctx.shared.state().pdp.max_cid);
            let mut state = ctx.shared.state();
            let profile = &mut state.psd.slots[id].profile;
            match t {
                0 => profile.protocol = number(p, 2, 3)?,
                1 => profile.apn = text(p, 2, MAX_APN)?,
                2 => profile.user = text(p, 2, MAX_CREDENTIAL)?,
                3 => profile.password = text(p, 2, MAX_CREDENTIAL)?,
                4 => profile.dns[0] = ipv4_text(p, 2)?,
                5 => profile.dns[1] = ipv4_text(p, 2)?,
                6 => profile.auth = number(p, 2, 3)?,
                7 => profile.static_ip = ipv4_text(p, 2)?,
                8 => profile.compression[0] = number(p, 2, 1)?,
                9 => profile.compression[1] = number(p, 2, 1)?,
                100 => profile.cid = number(p, 2, max_cid)?,
                _ => return Err(not_supported()),
            }
            Ok(Response::ok())
        }
        CommandKind::Read | CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn upsda(ctx: &Ctx, kind: &CommandKind) -> Outcome {
    match upsda_reply(ctx, kind) {
        Ok((response, urc)) => {
            if let Some(urc) = urc {
                // After the OK: the terminal holds URCs until the response is written.
                ctx.shared.urc(ctx.terminal, urc);
            }
            Outcome::Done(response)
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// `+UPSDA`'s answer and, for an activation on a model that reports it, its URC.
fn upsda_reply(ctx: &Ctx, kind: &CommandKind) -> Result<(Response, Option<String>), CommandError> {
    let model = ctx.shared.model;
    let p = match kind {
        CommandKind::Test => {
            return Ok((
                Response::line(format!(
                    "+UPSDA: (0-{}),(0-4)",
                    model.psd.profiles.saturating_sub(1)
                )),
                None,
            ));
        }
        CommandKind::Set(p) => p,
        CommandKind::Read | CommandKind::Action => return Err(CommandError::Syntax),
    };
    p.at_most(2)?;
    let id = profile_id(ctx, p)?;
    let action = p.req_num(1)?;
    let mut state = ctx.shared.state();
    let active = state.psd.slots[id].bearer.is_some();
    match action {
        // Reset, store and load: not while the profile is in use.
        0 | 2 if active => Err(not_allowed()),
        0 => {
            state.psd.slots[id].profile = Profile::default();
            Ok((Response::ok(), None))
        }
        1 => {
            let slot = &mut state.psd.slots[id];
            slot.stored = slot.profile.clone();
            Ok((Response::ok(), None))
        }
        2 => {
            let slot = &mut state.psd.slots[id];
            slot.profile = slot.stored.clone();
            Ok((Response::ok(), None))
        }
        3 if active => Err(not_allowed()),
        3 => {
            if state.general.cfun != 1 || state.network.cops_mode == 2 {
                return Err(CmeError::NoNetworkService.into());
            }
            let cid = activate(&mut state, model, id)?;
            state.psd.slots[id].bearer = Some(cid);
            let ip = state
                .pdp
                .active_addrs(cid)
                .map(|a| a.preferred())
                .unwrap_or_default();
            tracing::info!(profile = id, cid, "PSD profile activated");
            let urc = model
                .psd
                .activation_urc
                .then(|| format!("+UUPSDA: 0,\"{ip}\""));
            Ok((Response::ok(), urc))
        }
        4 => {
            // Deactivating an inactive profile has nothing to do (docs/FIDELITY.md).
            if let Some(cid) = state.psd.slots[id].bearer.take() {
                match model.psd.style {
                    PsdStyle::Profiles => {
                        state.pdp.contexts.remove(&cid);
                    }
                    _ => {
                        if let Some(c) = state.pdp.contexts.get_mut(&cid) {
                            c.active = false;
                        }
                    }
                }
            }
            Ok((Response::ok(), None))
        }
        _ => Err(not_supported()),
    }
}

/// Brings up profile `id`'s bearer and returns its cid.
fn activate(state: &mut State, model: &Model, id: usize) -> Result<u8, CommandError> {
    let profile = state.psd.slots[id].profile.clone();
    state.pdp.attached = true;
    match model.psd.style {
        PsdStyle::Profiles => {
            // A context of its own, on the first free cid.
            let max = state.pdp.max_cid;
            let cid = (1..=max)
                .find(|c| !state.pdp.contexts.contains_key(c))
                .ok_or_else(not_allowed)?;
            state.pdp.contexts.insert(
                cid,
                Context {
                    pdp_type: profile.pdp_type(),
                    apn: profile.apn,
                    active: true,
                    next: None,
                },
            );
            Ok(cid)
        }
        PsdStyle::MapToCid => {
            // cid 0 is the default bearer, cid 1.
            let cid = u8::try_from(profile.cid.max(1)).map_err(|_| not_supported())?;
            let context = state.pdp.contexts.get_mut(&cid).ok_or_else(not_allowed)?;
            context.active = true;
            Ok(cid)
        }
        PsdStyle::None => Err(CommandError::Syntax),
    }
}

fn upsnd(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let model = ctx.shared.model;
    match kind {
        CommandKind::Test => Ok(Response::line(format!(
            "+UPSND: (0-{}),(0-2,8)",
            model.psd.profiles.saturating_sub(1)
        ))),
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let id = profile_id(ctx, p)?;
            let param = p.req_num(1)?;
            let state = ctx.shared.state();
            let slot = &state.psd.slots[id];
            let value = match param {
                8 => u8::from(slot.bearer.is_some()).to_string(),
                0 => {
                    // The address of an inactive profile: not available (docs/FIDELITY.md).
                    let cid = slot.bearer.ok_or_else(not_allowed)?;
                    let addrs = state.pdp.active_addrs(cid).ok_or_else(not_allowed)?;
                    format!("\"{}\"", addrs.preferred())
                }
                1 | 2 => {
                    slot.bearer.ok_or_else(not_allowed)?;
                    format!("\"{}\"", slot.profile.dns[(param - 1) as usize])
                }
                _ => return Err(not_supported()),
            };
            Ok(Response::line(format!("+UPSND: {id},{param},{value}")))
        }
        CommandKind::Read | CommandKind::Action => Err(CommandError::Syntax),
    }
}
