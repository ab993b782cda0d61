//! `+UHTTP`: the profiles. `AT+UHTTP=<id>` resets one to factory; `AT+UHTTP=<id>,<op>,<value>`
//! sets a parameter; `AT+UHTTP=<id>,<op>` reads it back as `+UHTTP: <id>,<value>`, the shape
//! ubxlib parses (docs/FIDELITY.md).

use ubx_at::{CmeError, CommandError, Params, Response};

use crate::families::security::state::PROFILES;
use crate::module::state::Ctx;
use crate::services::http::state::Profile;
use crate::services::toolkit::params;

/// Longest server name, user, password or header (u-blox: 128 for names; ours for all).
const MAX_TEXT: usize = 128;

/// `<profile_id>` at 0: one of the model's.
pub(crate) fn profile_id(ctx: &Ctx, p: &Params) -> Result<usize, CommandError> {
    let id = p.req_num(0)?;
    usize::try_from(id)
        .ok()
        .filter(|id| *id < usize::from(ctx.shared.model.http.profiles))
        .ok_or_else(|| CmeError::OperationNotAllowed.into())
}

/// Text with no control character: CR and LF never reach a request line or a header.
pub(crate) fn text(p: &Params, i: usize) -> Result<String, CommandError> {
    params::text(p, i, MAX_TEXT)
}

/// `AT+UHTTP=<id>[,<op>[,<value>[,<value2>]]]`.
pub(crate) fn uhttp(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(4)?;
    let id = profile_id(ctx, p)?;
    if !p.present(1) {
        ctx.shared.state().http.profiles[id].0 = Profile::factory();
        return Ok(Response::ok());
    }
    let op = p.req_num(1)?;
    if !ctx.shared.model.http.uhttp_ops.contains(&op) {
        return Err(CmeError::OperationNotSupported.into());
    }
    let mut state = ctx.shared.state();
    let profile = &mut state.http.profiles[id].0;
    if !p.present(2) {
        return read(id, profile, op);
    }
    set(profile, op, p)?;
    Ok(Response::ok())
}

fn set(profile: &mut Profile, op: i64, p: &Params) -> Result<(), CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    match op {
        0 => {
            let ip = text(p, 2)?;
            ip.parse::<std::net::IpAddr>().map_err(|_| bad())?;
            profile.server_ip = ip;
            profile.server_name.clear();
        }
        1 => {
            let name = text(p, 2)?;
            if name.is_empty() || name.contains([' ', '/', '@']) {
                return Err(bad());
            }
            profile.server_name = name;
            profile.server_ip.clear();
        }
        2 => profile.user = text(p, 2)?,
        3 => profile.password = text(p, 2)?,
        4 => {
            profile.auth = u8::try_from(p.req_num(2)?)
                .ok()
                .filter(|a| *a <= 1)
                .ok_or_else(bad)?
        }
        5 => {
            let port = u16::try_from(p.req_num(2)?).ok().filter(|p| *p != 0);
            profile.port = Some(port.ok_or_else(bad)?);
        }
        6 => {
            profile.secure = match (p.req_num(2)?, p.num(3)?) {
                (0, _) => None,
                (1, None) => Some(0),
                (1, Some(sec)) => Some(
                    u8::try_from(sec)
                        .ok()
                        .filter(|s| usize::from(*s) < PROFILES)
                        .ok_or_else(bad)?,
                ),
                _ => return Err(bad()),
            };
        }
        7 => {
            let secs = p.req_num(2)?;
            profile.timeout = u32::try_from(secs)
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or_else(bad)?;
        }
        9 => {
            let header = text(p, 2)?;
            let (name, _) = header.split_once(':').ok_or_else(bad)?;
            if name.is_empty() || name.contains(' ') || profile.headers.len() >= 8 {
                return Err(bad());
            }
            profile.headers.push(header);
        }
        _ => return Err(bad()),
    }
    Ok(())
}

fn read(id: usize, profile: &Profile, op: i64) -> Result<Response, CommandError> {
    let value = match op {
        0 => format!("\"{}\"", profile.server_ip),
        1 => format!("\"{}\"", profile.server_name),
        2 => format!("\"{}\"", profile.user),
        // The password is never shown.
        3 => "\"\"".to_string(),
        4 => profile.auth.to_string(),
        5 => profile.port().to_string(),
        6 => match profile.secure {
            Some(sec) => format!("1,{sec}"),
            None => "0".to_string(),
        },
        7 => profile.timeout.to_string(),
        9 => format!("\"{}\"", profile.headers.join("\",\"")),
        _ => return Err(CmeError::OperationNotSupported.into()),
    };
    Ok(Response::line(format!("+UHTTP: {id},{value}")))
}
