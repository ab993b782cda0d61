//! General commands: identification, functionality level, the clock and greeting text, GPIOs,
//! and the settings drivers send during bring-up. (The SIM is in [`crate::families::sim`], registration
//! and the operator in [`crate::families::network`], power saving in [`crate::families::power`].)
//!
//! A module in software has no radio and no SIM, so the status commands report a module that is
//! powered, has a ready SIM and is registered on its home network — the state every driver waits
//! for — and `+CFUN=0/4` takes that away: the module deregisters and its PDP contexts go down
//! (handled in [`crate::families::pdp`]), which is how a test makes FTP fail for want of a network.
//!
//! Bring-up settings that change nothing in an emulator (`+CMGF`, `+CTZU`, `+UPSV`, …) are
//! recorded and read back coherently; they live in one table, [`SETTINGS`], with their ranges.

use std::collections::BTreeMap;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};
use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

mod interfaces;
pub mod state;

pub use state::GeneralState;
use state::{SETTINGS, SimpleSetting};

use crate::families::pdp;
use crate::module::state::Ctx;

/// Baud rates `+IPR` accepts (0 = autobauding).
const BAUD_RATES: &[i64] = &[
    0, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 3000000,
];

type Reply = Result<Response, CommandError>;

fn ok() -> Reply {
    Ok(Response::ok())
}

/// The commands of this family (besides [`SETTINGS`]).
const COMMANDS: &[&str] = &[
    "I", "H", "&V", "&W", "&Y", "+CGMI", "+GMI", "+CGMM", "+GMM", "+CGMR", "+GMR", "+CGSN", "+GSN",
    "+CFUN", "+IPR", "+CSCS", "+UDCONF", "+UGPIOC", "+UGPIOR", "+UGPIOW", "+CPWROFF", "+CCLK",
    "+CSGT", "+USIO", "+UGPRF",
];

/// Executes a general command, or `None` when `cmd` belongs to another family.
pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let name = cmd.name.as_str();
    let ours = COMMANDS.contains(&name) || SETTINGS.iter().any(|s| s.name == name);
    ours.then(|| run(ctx, cmd).into())
}

fn run(ctx: &Ctx, cmd: &Command) -> Reply {
    let model = ctx.shared.model;
    let name = cmd.name.as_str();
    let kind = &cmd.kind;
    match (name, kind) {
        // Basic commands not handled by the terminal itself.
        ("I", CommandKind::Action) => Ok(Response::lines(model.ati())),
        ("I", CommandKind::Set(p)) => match p.num(0)? {
            Some(0) => Ok(Response::lines(model.ati())),
            Some(9) => Ok(Response::line(model.identity.ati9.as_str())),
            _ => Err(CommandError::Syntax),
        },
        // Hang up, and storing or choosing a stored profile: accepted, nothing to do (`&C`,
        // `&D`, `&K` and `&S` are the terminal's own, in ubx-at).
        ("H" | "&W" | "&Y", _) => ok(),
        ("&V", _) => interfaces::profile(ctx, kind),
        ("+USIO", _) => interfaces::usio(ctx, kind),
        ("+UGPRF", _) => interfaces::gnss_profile(ctx, kind),
        ("+CGMI" | "+GMI", CommandKind::Action) => {
            Ok(Response::line(model.identity.manufacturer.as_str()))
        }
        ("+CGMM" | "+GMM", CommandKind::Action) => {
            Ok(Response::line(model.identity.model.as_str()))
        }
        ("+CGMR" | "+GMR", CommandKind::Action) => {
            Ok(Response::line(model.identity.revision.as_str()))
        }
        ("+CGSN" | "+GSN", CommandKind::Action) => Ok(Response::line(ctx.shared.imei.as_str())),
        ("+CGSN", CommandKind::Set(p)) => match p.num(0)? {
            None | Some(0) | Some(1) => Ok(Response::line(ctx.shared.imei.as_str())),
            _ => Err(CmeError::OperationNotSupported.into()),
        },
        (
            "+CGMI" | "+CGMM" | "+CGMR" | "+CGSN" | "+GMI" | "+GMM" | "+GMR" | "+GSN",
            CommandKind::Test,
        ) => ok(),
        ("+CFUN", _) => cfun(ctx, kind),
        ("+IPR", _) => ipr(ctx, kind),
        ("+CSCS", CommandKind::Read) => Ok(Response::line(format!(
            "+CSCS: \"{}\"",
            ctx.shared.state().general.cscs
        ))),
        ("+CSCS", CommandKind::Set(p)) => match p.req_str(0)? {
            b"IRA" | b"GSM" | b"UCS2" | b"HEX" | b"8859-1" => {
                ctx.shared.state().general.cscs =
                    String::from_utf8_lossy(p.req_str(0)?).into_owned();
                ok()
            }
            _ => Err(CmeError::OperationNotSupported.into()),
        },
        ("+CSCS", CommandKind::Test) => Ok(Response::line(
            "+CSCS: (\"IRA\",\"GSM\",\"UCS2\",\"HEX\",\"8859-1\")",
        )),
        ("+UDCONF", _) => keyed(ctx, "+UDCONF", kind, |s| &mut s.general.udconf),
        ("+UGPIOC", _) => keyed(ctx, "+UGPIOC", kind, |s| &mut s.general.gpio),
        ("+UGPIOR", _) => ugpior(ctx, kind),
        ("+UGPIOW", _) => ugpiow(ctx, kind),
        ("+CCLK", _) => cclk(ctx, kind),
        ("+CSGT", _) => csgt(ctx, kind),
        ("+CPWROFF", CommandKind::Action) => ok(),
        (n, _) => match SETTINGS.iter().find(|s| s.name == n) {
            Some(setting) => simple(ctx, setting, kind),
            None => Err(CommandError::Syntax),
        },
    }
}

fn cfun(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+CFUN: {},0",
            ctx.shared.state().general.cfun
        ))),
        CommandKind::Test => Ok(Response::line(ctx.shared.model.functionality.test.as_str())),
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let fun = p.req_num(0)?;
            if !matches!(p.num(1)?, None | Some(0 | 1))
                || !ctx.shared.model.functionality.values.contains(&fun)
            {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            match fun {
                // Minimum functionality / airplane mode: radio off, contexts down.
                0 | 4 => {
                    state.general.cfun = fun;
                    pdp::detach(&mut state);
                }
                1 => {
                    state.general.cfun = 1;
                    pdp::attach(&mut state);
                }
                // Silent reset / reset with SIM reset: the module comes back attached, and greets
                // every terminal if `+CSGT` says so.
                15 | 16 => {
                    state.general.cfun = 1;
                    // The +USIO variant requested is the one active after the reboot.
                    state.general.usio = state.general.usio.map(|(r, _)| (r, r));
                    pdp::detach(&mut state);
                    crate::families::psd::reboot(&mut state, ctx.shared.model);
                    pdp::attach(&mut state);
                    let (text, shown) = state.general.greeting.clone();
                    drop(state);
                    if shown && !text.is_empty() {
                        ctx.shared.broadcast(text);
                    }
                    return ok();
                }
                10 | 11 | 19 => state.general.cfun = fun,
                _ => return Err(CmeError::OperationNotSupported.into()),
            }
            ok()
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn ipr(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        // The rate in use: under autobauding (0) the one detected, which ubxlib reads before it
        // fixes the rate (uCellCfgSetAutoBaudOff(), u_cell_cfg.c).
        CommandKind::Read => Ok(Response::line(format!(
            "+IPR: {}",
            ctx.shared.state().general.rate
        ))),
        CommandKind::Test => {
            let list: Vec<String> = BAUD_RATES.iter().map(i64::to_string).collect();
            Ok(Response::line(format!("+IPR: ({}),()", list.join(","))))
        }
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let rate = p.num(0)?.unwrap_or(0);
            if !BAUD_RATES.contains(&rate) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            state.general.ipr = rate;
            if rate > 0 {
                state.general.rate = rate;
            }
            drop(state);
            // The terminal's own rate changes after the OK (a serial port follows; autobauding,
            // 0, keeps the rate the host uses).
            if let Ok(rate @ 1..) = u32::try_from(rate) {
                ctx.baud.set(Some(rate));
            }
            ok()
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn join(values: &[i64]) -> String {
    values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn simple(ctx: &Ctx, setting: &SimpleSetting, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            let values = state
                .general
                .settings
                .get(setting.name)
                .map(Vec::as_slice)
                .unwrap_or(setting.factory);
            Ok(Response::line(format!(
                "{}: {}",
                setting.name,
                join(values)
            )))
        }
        CommandKind::Test => Ok(Response::line(setting.test)),
        CommandKind::Set(p) => {
            p.at_most(setting.ranges.len())?;
            let mut state = ctx.shared.state();
            let mut values = state
                .general
                .settings
                .get(setting.name)
                .cloned()
                .unwrap_or_else(|| setting.factory.to_vec());
            for (i, (lo, hi)) in setting.ranges.iter().enumerate() {
                match p.num(i)? {
                    Some(v) if (*lo..=*hi).contains(&v) => values[i] = v,
                    Some(_) => return Err(CmeError::OperationNotSupported.into()),
                    None if i == 0 => values[0] = setting.factory[0],
                    None => {}
                }
            }
            state.general.settings.insert(setting.name, values);
            ok()
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// Commands whose values are keyed by their first parameter: `AT+UDCONF=1,1` sets key 1,
/// `AT+UDCONF=1` reads it back as `+UDCONF: 1,1`.
fn keyed(
    ctx: &Ctx,
    name: &str,
    kind: &CommandKind,
    table: impl Fn(&mut crate::module::state::State) -> &mut BTreeMap<i64, Vec<i64>>,
) -> Reply {
    let mut state = ctx.shared.state();
    let map = table(&mut state);
    match kind {
        CommandKind::Set(p) if p.len() == 1 => {
            let key = p.req_num(0)?;
            let values = map.get(&key).ok_or(CmeError::OperationNotAllowed)?;
            Ok(Response::line(format!("{name}: {key},{}", join(values))))
        }
        CommandKind::Set(p) if p.len() <= 8 => {
            let key = p.req_num(0)?;
            let values = (1..p.len())
                .map(|i| p.num(i).map(|v| v.unwrap_or(0)))
                .collect::<Result<Vec<_>, _>>()?;
            map.insert(key, values);
            ok()
        }
        CommandKind::Read => Ok(Response::lines(
            map.iter().map(|(k, v)| format!("{name}: {k},{}", join(v))),
        )),
        CommandKind::Test => Ok(Response::ok()),
        _ => Err(CommandError::Syntax),
    }
}

/// `+UGPIOR=<gpio_id>`: the level of a GPIO: an output reads back its value, anything else
/// (an input with nothing wired to it, or a pin not configured) reads 0.
fn ugpior(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let id = p.req_num(0)?;
            if !(0..=255).contains(&id) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let state = ctx.shared.state();
            let level = match state.general.gpio.get(&id).map(Vec::as_slice) {
                Some([0, value, ..]) => *value,
                _ => 0,
            };
            Ok(Response::line(format!("+UGPIOR: {id},{level}")))
        }
        CommandKind::Test => Ok(Response::line("+UGPIOR: (0-255)")),
        _ => Err(CommandError::Syntax),
    }
}

/// `+UGPIOW=<gpio_id>,<level>`: drives a pin that `+UGPIOC=<id>,0` made an output, so that
/// `+UGPIOR` reads the level back (ubxlib's `uCellGpioSet`); any other pin → `operation not
/// allowed`.
fn ugpiow(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let id = p.req_num(0)?;
            let level = p.req_num(1)?;
            if !(0..=255).contains(&id) || !(0..=1).contains(&level) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            match state.general.gpio.get_mut(&id) {
                Some(values) if values.first() == Some(&0) => {
                    values.resize(values.len().max(2), 0);
                    values[1] = level;
                    Ok(Response::ok())
                }
                _ => Err(CmeError::OperationNotAllowed.into()),
            }
        }
        CommandKind::Test => Ok(Response::line("+UGPIOW: (0-255),(0-1)")),
        _ => Err(CommandError::Syntax),
    }
}

/// Longest `+CSGT` greeting text (SARA-R4 manual: 49 characters).
const GREETING_MAX: usize = 49;

fn csgt(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            let (text, shown) = &state.general.greeting;
            Ok(Response::line(format!(
                "+CSGT: \"{text}\",{}",
                u8::from(*shown)
            )))
        }
        CommandKind::Test => Ok(Response::line(format!("+CSGT: (0-1),{GREETING_MAX}"))),
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let mode = p.req_num(0)?;
            if !(0..=1).contains(&mode) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let text = match p.str(1)? {
                Some(t) => {
                    let t = std::str::from_utf8(t).map_err(|_| CmeError::InvalidCharacters)?;
                    if t.chars().any(char::is_control) {
                        return Err(CmeError::InvalidCharacters.into());
                    }
                    if t.chars().count() > GREETING_MAX {
                        return Err(CmeError::TextTooLong.into());
                    }
                    Some(t.to_string())
                }
                None => None,
            };
            let mut state = ctx.shared.state();
            let greeting = &mut state.general.greeting;
            greeting.1 = mode == 1;
            if let Some(text) = text {
                greeting.0 = text;
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// `+CCLK`: `"yy/MM/dd,hh:mm:ss±zz"`, the time zone in quarter hours.
fn cclk(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let (now, tz) = match ctx.shared.state().general.clock {
                // LEXI-R10 (`clock.set_is_utc`): the time set is UTC, the time read is local.
                Some((set, tz, at)) if ctx.shared.model.clock.set_is_utc => (
                    set + at.elapsed() + time::Duration::minutes(15 * i64::from(tz)),
                    tz,
                ),
                Some((set, tz, at)) => (set + at.elapsed(), tz),
                None => {
                    let utc = OffsetDateTime::now_utc();
                    (PrimitiveDateTime::new(utc.date(), utc.time()), 0)
                }
            };
            Ok(Response::line(format!(
                "+CCLK: \"{}\"",
                clock_text(now, tz)
            )))
        }
        CommandKind::Test => Ok(Response::ok()),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let (time, tz) = parse_clock(p)?;
            ctx.shared.state().general.clock = Some((time, tz, std::time::Instant::now()));
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn clock_text(t: PrimitiveDateTime, tz: i8) -> String {
    format!(
        "{:02}/{:02}/{:02},{:02}:{:02}:{:02}{}{:02}",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if tz < 0 { '-' } else { '+' },
        tz.unsigned_abs()
    )
}

/// Reads `"yy/MM/dd,hh:mm:ss[±zz]"`; anything else is `operation not supported`.
fn parse_clock(p: &Params) -> Result<(PrimitiveDateTime, i8), CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    let text = std::str::from_utf8(p.req_str(0)?).map_err(|_| bad())?;
    let num = |range: std::ops::Range<usize>| -> Result<u8, CommandError> {
        let field = text.get(range).ok_or_else(bad)?;
        if !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        field.parse().map_err(|_| bad())
    };
    let separators = [(2, b'/'), (5, b'/'), (8, b','), (11, b':'), (14, b':')];
    if !(text.len() == 17 || text.len() == 20)
        || separators.iter().any(|&(i, c)| text.as_bytes()[i] != c)
    {
        return Err(bad());
    }
    let month = Month::try_from(num(3..5)?).map_err(|_| bad())?;
    let date = Date::from_calendar_date(2000 + i32::from(num(0..2)?), month, num(6..8)?)
        .map_err(|_| bad())?;
    let time = Time::from_hms(num(9..11)?, num(12..14)?, num(15..17)?).map_err(|_| bad())?;
    let tz = if text.len() == 20 {
        let quarters = i8::try_from(num(18..20)?).map_err(|_| bad())?;
        match text.as_bytes()[17] {
            b'+' if quarters <= 96 => quarters,
            b'-' if quarters <= 96 => -quarters,
            _ => return Err(bad()),
        }
    } else {
        0
    };
    Ok((PrimitiveDateTime::new(date, time), tz))
}
