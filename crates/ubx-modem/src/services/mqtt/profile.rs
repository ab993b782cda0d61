//! `+UMQTT` (the profile: `AT+UMQTT=<op>,<value>...` sets, `AT+UMQTT=<op>` reads
//! `+UMQTT: <op>,<value>`; in the old SARA-R4 syntax a set answers `+UMQTT: <op>,1` and
//! `AT+UMQTT=<op>?` reads into the URC `+UUMQTT<op>:`) and `+UMQTTNV` (0 factory, 1 from NVM,
//! 2 to NVM).

use ubx_at::{CmeError, CommandError, Param, Params, Response};

use crate::families::security::state::PROFILES;
use crate::module::model::MqttSyntax;
use crate::module::state::Ctx;
use crate::services::mqtt::session::syntax;
use crate::services::mqtt::state::Profile;
use crate::services::toolkit::params;

/// Longest client id, server name, user, password, topic or will message.
const MAX_TEXT: usize = 256;

/// Text at `i`: UTF-8 with no control character.
pub(crate) fn text(p: &Params, i: usize) -> Result<String, CommandError> {
    params::text(p, i, MAX_TEXT)
}

/// Hex digits at `i`, as bytes (strict: an even count of 0-9, a-f, A-F).
pub(crate) fn hex(p: &Params, i: usize) -> Result<Vec<u8>, CommandError> {
    let raw = p.req_str(i)?;
    if raw.len() > 2 * MAX_TEXT * 2 {
        return Err(CmeError::InvalidCharacters.into());
    }
    params::hex_digits(raw).ok_or_else(|| CmeError::InvalidCharacters.into())
}

fn number(p: &Params, i: usize, max: i64) -> Result<i64, CommandError> {
    let v = p.req_num(i)?;
    if (0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(CmeError::OperationNotSupported.into())
    }
}

/// `AT+UMQTT=<op>[,<value>[,<value2>]]`; in the old SARA-R4 syntax a set answers
/// `+UMQTT: <op>,1`, and `AT+UMQTT=<op>?` reads.
pub(crate) fn umqtt(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(3)?;
    let old = syntax(ctx.shared) == MqttSyntax::SaraR4;
    if let Some(op) = query(p).filter(|_| old) {
        known(ctx, op)?;
        return old_read(ctx, op);
    }
    let op = p.req_num(0)?;
    known(ctx, op)?;
    let mut state = ctx.shared.state();
    let profile = &mut state.mqtt.profile;
    match (p.present(1), old) {
        (false, false) => {
            let mut line = format!("+UMQTT: {op},").into_bytes();
            line.extend(value(profile, op, false)?.unwrap_or_default());
            Ok(Response::line(line))
        }
        // The old syntax reads with `?` only.
        (false, true) => Err(CommandError::Syntax),
        (true, _) => {
            set(profile, op, p)?;
            Ok(if old {
                Response::line(format!("+UMQTT: {op},1"))
            } else {
                Response::ok()
            })
        }
    }
}

/// An op the model's `+UMQTT` has (`mqtt.umqtt_ops`): others are `operation not supported`.
fn known(ctx: &Ctx, op: i64) -> Result<(), CommandError> {
    let ops = ctx.shared.model.mqtt.as_ref().map(|m| &m.umqtt_ops);
    if ops.is_some_and(|ops| ops.contains(&op)) {
        Ok(())
    } else {
        Err(CmeError::OperationNotSupported.into())
    }
}

/// `AT+UMQTT=<op>?` (the old syntax's read): the op, when that is the one parameter.
fn query(p: &Params) -> Option<i64> {
    match (p.len(), p.get(0)) {
        (1, Param::Bare(raw)) => {
            let digits = raw.strip_suffix(b"?")?;
            if digits.is_empty() || digits.len() > 2 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// The old syntax's read: `+UMQTT: <op>,1` and `OK`, then the value in the URC
/// `+UUMQTT<op>: <value>` (ubxlib's `doSaraR4OldSyntaxUmqttQuery()` waits for it). Security
/// off is not reported (ubxlib: "SARA-R4 doesn't report the security status if it is the
/// default of unsecured").
fn old_read(ctx: &Ctx, op: i64) -> Result<Response, CommandError> {
    let value = value(&ctx.shared.state().mqtt.profile, op, true)?;
    if let Some(value) = value {
        let mut urc = format!("+UUMQTT{op}: ").into_bytes();
        urc.extend(value);
        ctx.shared.urc(ctx.terminal, urc);
    }
    Ok(Response::line(format!("+UMQTT: {op},1")))
}

fn set(profile: &mut Profile, op: i64, p: &Params) -> Result<(), CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    let port = |i: usize| -> Result<Option<u16>, CommandError> {
        match p.num(i)? {
            None => Ok(None),
            Some(v) => u16::try_from(v)
                .ok()
                .filter(|v| *v != 0)
                .map(Some)
                .ok_or_else(bad),
        }
    };
    match op {
        0 => profile.client_id = text(p, 1)?,
        1 => profile.local_port = port(1)?.ok_or_else(bad).map(Some)?,
        2 => {
            let name = text(p, 1)?;
            if name.is_empty() || name.contains([' ', '/', '@']) {
                return Err(bad());
            }
            profile.port = port(2)?;
            profile.server_name = name;
            profile.server_ip.clear();
        }
        3 => {
            let ip = text(p, 1)?;
            ip.parse::<std::net::IpAddr>().map_err(|_| bad())?;
            profile.port = port(2)?;
            profile.server_ip = ip;
            profile.server_name.clear();
        }
        4 => {
            profile.user = text(p, 1)?;
            profile.password = if p.present(2) {
                text(p, 2)?
            } else {
                String::new()
            };
        }
        6 => profile.will_qos = number(p, 1, 2)? as u8,
        7 => profile.will_retain = number(p, 1, 1)? == 1,
        8 => profile.will_topic = text(p, 1)?,
        9 => {
            profile.will_message = match p.num(2)? {
                None | Some(0) => text(p, 1)?.into_bytes(),
                Some(1) => hex(p, 1)?,
                Some(_) => return Err(bad()),
            }
        }
        10 => profile.keep_alive = number(p, 1, 65535)? as u16,
        11 => {
            profile.secure = match (number(p, 1, 1)?, p.num(2)?) {
                (0, _) => None,
                (_, None) => Some(0),
                (_, Some(sec)) => Some(
                    u8::try_from(sec)
                        .ok()
                        .filter(|s| usize::from(*s) < PROFILES)
                        .ok_or_else(bad)?,
                ),
            }
        }
        12 => profile.clean_session = number(p, 1, 1)? == 1,
        _ => return Err(bad()),
    }
    Ok(())
}

/// What a read shows of op `op`; `None`: nothing (the old syntax's security off). The old
/// syntax shows an unset local port as an empty string (ubxlib: "what we get is an empty
/// string and not an integer").
fn value(profile: &Profile, op: i64, old: bool) -> Result<Option<Vec<u8>>, CommandError> {
    let value = match op {
        0 => format!("\"{}\"", profile.client_id),
        1 => match profile.local_port {
            None if old => "\"\"".to_string(),
            port => port.unwrap_or(0).to_string(),
        },
        2 => format!("\"{}\",{}", profile.server_name, profile.port()),
        3 => format!("\"{}\",{}", profile.server_ip, profile.port()),
        // The password is never shown.
        4 => format!("\"{}\"", profile.user),
        6 => profile.will_qos.to_string(),
        7 => u8::from(profile.will_retain).to_string(),
        8 => format!("\"{}\"", profile.will_topic),
        // The length, then the bytes as they are: ubxlib's `uCellMqttGetWill()` reads
        // `<length>,"<bytes>"`.
        9 => {
            let message = &profile.will_message;
            let mut value = format!("{},\"", message.len()).into_bytes();
            value.extend_from_slice(message);
            value.push(b'"');
            return Ok(Some(value));
        }
        10 => profile.keep_alive.to_string(),
        11 => match profile.secure {
            Some(sec) => format!("1,{sec}"),
            None if old => return Ok(None),
            None => "0".to_string(),
        },
        12 => u8::from(profile.clean_session).to_string(),
        _ => return Err(CmeError::OperationNotSupported.into()),
    };
    Ok(Some(value.into_bytes()))
}

/// `AT+UMQTTNV=<0|1|2>`: factory, from NVM, to NVM.
/// In the old syntax it answers `+UMQTTNV: <op>,1` first, as its other set commands do (INF).
pub(crate) fn umqttnv(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(1)?;
    let op = p.req_num(0)?;
    let mut state = ctx.shared.state();
    match op {
        0 => state.mqtt.profile = Profile::default(),
        1 => state.mqtt.profile = state.mqtt.stored.clone().unwrap_or_default(),
        2 => state.mqtt.stored = Some(state.mqtt.profile.clone()),
        _ => return Err(CmeError::OperationNotSupported.into()),
    }
    Ok(match syntax(ctx.shared) {
        MqttSyntax::New => Response::ok(),
        MqttSyntax::SaraR4 => Response::line(format!("+UMQTTNV: {op},1")),
    })
}
