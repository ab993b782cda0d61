//! General commands: identification, functionality level, SIM and registration status, and the
//! settings drivers send during bring-up.
//!
//! A module in software has no radio and no SIM, so the status commands report a module that is
//! powered, has a ready SIM and is registered on its home network — the state every driver waits
//! for — and `+CFUN=0/4` takes that away: the module deregisters and its PDP contexts go down
//! (handled in [`crate::pdp`]), which is how a test makes FTP fail for want of a network.
//!
//! Bring-up settings that change nothing in an emulator (`+CMGF`, `+CTZU`, `+UPSV`, …) are
//! recorded and read back coherently; they live in one table, [`SETTINGS`], with their ranges.

use std::collections::BTreeMap;

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Response};

use crate::Ctx;
use crate::pdp;

/// Baud rates `+IPR` accepts (0 = autobauding).
const BAUD_RATES: &[i64] = &[
    0, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 3000000,
];

/// A recorded numeric setting: its parameters' ranges and factory values, and its test answer.
struct SimpleSetting {
    name: &'static str,
    ranges: &'static [(i64, i64)],
    factory: &'static [i64],
    test: &'static str,
}

/// Settings that are recorded and read back, nothing more (see docs/FIDELITY.md).
const SETTINGS: &[SimpleSetting] = &[
    SimpleSetting {
        name: "+CMGF",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+CMGF: (0-1)",
    },
    SimpleSetting {
        name: "+CTZU",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+CTZU: (0-1)",
    },
    SimpleSetting {
        name: "+UPSV",
        ranges: &[(0, 4), (40, 65000)],
        factory: &[0, 2000],
        test: "+UPSV: (0-4),(40-65000)",
    },
    SimpleSetting {
        name: "+UCALLSTAT",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+UCALLSTAT: (0-1)",
    },
    SimpleSetting {
        name: "+UDTMFD",
        ranges: &[(0, 1), (0, 2)],
        factory: &[0, 2],
        test: "+UDTMFD: (0-1),(0-2)",
    },
    SimpleSetting {
        name: "+CGEREP",
        ranges: &[(0, 2), (0, 1)],
        factory: &[0, 0],
        test: "+CGEREP: (0-2),(0-1)",
    },
];

/// The registration commands: `+CREG`, `+CEREG`, `+CGREG`, each with its own `<n>`.
const REGISTRATION: &[&str] = &["+CREG", "+CEREG", "+CGREG"];

#[derive(Debug)]
pub struct GeneralState {
    /// `+CFUN` level.
    pub cfun: i64,
    pub ipr: i64,
    /// `<n>` of the registration commands, by name.
    pub reg_mode: BTreeMap<&'static str, i64>,
    /// Values of [`SETTINGS`], by name.
    pub settings: BTreeMap<&'static str, Vec<i64>>,
    /// `+UDCONF` and `+UGPIOC` values, keyed by their first parameter.
    pub udconf: BTreeMap<i64, Vec<i64>>,
    pub gpio: BTreeMap<i64, Vec<i64>>,
    pub cscs: String,
}

impl Default for GeneralState {
    fn default() -> Self {
        GeneralState {
            cfun: 1,
            ipr: 115200,
            reg_mode: REGISTRATION.iter().map(|n| (*n, 0)).collect(),
            settings: SETTINGS
                .iter()
                .map(|s| (s.name, s.factory.to_vec()))
                .collect(),
            udconf: BTreeMap::new(),
            gpio: BTreeMap::new(),
            cscs: "IRA".into(),
        }
    }
}

impl GeneralState {
    /// Whether the module is registered: radio on and attached.
    pub fn registered(&self, attached: bool) -> bool {
        self.cfun == 1 && attached
    }
}

type Reply = Result<Response, CommandError>;

fn ok() -> Reply {
    Ok(Response::ok())
}

/// The commands of this family (besides [`SETTINGS`] and [`REGISTRATION`]).
const COMMANDS: &[&str] = &[
    "I", "H", "&C", "&K", "&S", "&W", "&Y", "+CGMI", "+GMI", "+CGMM", "+GMM", "+CGMR", "+GMR",
    "+CGSN", "+GSN", "+CIMI", "+CCID", "+CPIN", "+CFUN", "+COPS", "+CSQ", "+IPR", "+CSCS",
    "+UDCONF", "+UGPIOC", "+USOCL", "+CPWROFF",
];

/// Executes a general command, or `None` when `cmd` belongs to another family.
pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let name = cmd.name.as_str();
    let ours = COMMANDS.contains(&name)
        || REGISTRATION.contains(&name)
        || SETTINGS.iter().any(|s| s.name == name);
    ours.then(|| run(ctx, cmd).into())
}

fn run(ctx: &Ctx, cmd: &Command) -> Reply {
    let model = ctx.shared.model;
    let name = cmd.name.as_str();
    let kind = &cmd.kind;
    match (name, kind) {
        // Basic commands not handled by the terminal itself.
        ("I", CommandKind::Action) => Ok(Response::line(model.model)),
        ("I", CommandKind::Set(p)) => match p.num(0)? {
            Some(0) => Ok(Response::line(model.model)),
            Some(9) => Ok(Response::line(model.ati9)),
            _ => Err(CommandError::Syntax),
        },
        // Hang up, and the V.250 line settings a serial driver sends: accepted, nothing to do.
        ("H" | "&C" | "&K" | "&S" | "&W" | "&Y", _) => ok(),
        ("+CGMI" | "+GMI", CommandKind::Action) => Ok(Response::line(model.manufacturer)),
        ("+CGMM" | "+GMM", CommandKind::Action) => Ok(Response::line(model.model)),
        ("+CGMR" | "+GMR", CommandKind::Action) => Ok(Response::line(model.revision)),
        ("+CGSN" | "+GSN", CommandKind::Action) => Ok(Response::line(ctx.shared.imei.as_str())),
        ("+CGSN", CommandKind::Set(p)) => match p.num(0)? {
            None | Some(0) | Some(1) => Ok(Response::line(ctx.shared.imei.as_str())),
            _ => Err(CmeError::OperationNotSupported.into()),
        },
        (
            "+CGMI" | "+CGMM" | "+CGMR" | "+CGSN" | "+GMI" | "+GMM" | "+GMR" | "+GSN",
            CommandKind::Test,
        ) => ok(),
        ("+CIMI", CommandKind::Action) => Ok(Response::line("001010123456789")),
        ("+CCID", CommandKind::Action | CommandKind::Read) => {
            Ok(Response::line("+CCID: 8900101234567890123"))
        }
        ("+CPIN", CommandKind::Read) => Ok(Response::line("+CPIN: READY")),
        ("+CPIN", CommandKind::Set(_)) => ok(),
        ("+CPIN", CommandKind::Test) => ok(),
        ("+CFUN", _) => cfun(ctx, kind),
        (n, _) if REGISTRATION.contains(&n) => registration(ctx, n, kind),
        ("+COPS", CommandKind::Read) => Ok(Response::line(if registered(ctx) {
            "+COPS: 0,0,\"ubxftp\",7"
        } else {
            "+COPS: 0"
        })),
        ("+COPS", CommandKind::Set(_)) => ok(),
        ("+COPS", CommandKind::Test) => Ok(Response::line(
            "+COPS: (2,\"ubxftp\",\"ubxftp\",\"00101\",7),,(0-4),(0-2)",
        )),
        ("+CSQ", CommandKind::Action) => Ok(Response::line(if registered(ctx) {
            "+CSQ: 20,99"
        } else {
            "+CSQ: 99,99"
        })),
        ("+CSQ", CommandKind::Test) => Ok(Response::line("+CSQ: (0-31,99),(0-7,99)")),
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
        // No sockets exist; drivers close leftovers and ignore the error.
        ("+USOCL", CommandKind::Set(_)) => Err(CmeError::OperationNotAllowed.into()),
        ("+CPWROFF", CommandKind::Action) => ok(),
        (n, _) => match SETTINGS.iter().find(|s| s.name == n) {
            Some(setting) => simple(ctx, setting, kind),
            None => Err(CommandError::Syntax),
        },
    }
}

fn registered(ctx: &Ctx) -> bool {
    let state = ctx.shared.state();
    state.general.registered(state.pdp.attached)
}

fn cfun(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+CFUN: {},0",
            ctx.shared.state().general.cfun
        ))),
        CommandKind::Test => Ok(Response::line(ctx.shared.model.cfun_test)),
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let fun = p.req_num(0)?;
            if !matches!(p.num(1)?, None | Some(0 | 1)) {
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
                // Silent reset / reset with SIM reset: the module comes back attached.
                15 | 16 => {
                    state.general.cfun = 1;
                    pdp::detach(&mut state);
                    pdp::attach(&mut state);
                }
                10 | 11 | 19 => state.general.cfun = fun,
                _ => return Err(CmeError::OperationNotSupported.into()),
            }
            ok()
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn registration(ctx: &Ctx, name: &str, kind: &CommandKind) -> Reply {
    let (max, test) = match name {
        "+CEREG" => (5, "+CEREG: (0-5)"),
        _ => (
            2,
            if name == "+CREG" {
                "+CREG: (0-2)"
            } else {
                "+CGREG: (0-2)"
            },
        ),
    };
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            let n = state.general.reg_mode.get(name).copied().unwrap_or(0);
            let stat = if state.general.registered(state.pdp.attached) {
                1
            } else {
                0
            };
            Ok(Response::line(format!("{name}: {n},{stat}")))
        }
        CommandKind::Test => Ok(Response::line(test)),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            match p.num(0)?.unwrap_or(0) {
                n @ 0.. if n <= max => {
                    let mut state = ctx.shared.state();
                    if let Some(slot) = state.general.reg_mode.iter_mut().find(|(k, _)| **k == name)
                    {
                        *slot.1 = n;
                    }
                    ok()
                }
                _ => Err(CmeError::OperationNotSupported.into()),
            }
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn ipr(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+IPR: {}",
            ctx.shared.state().general.ipr
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
            ctx.shared.state().general.ipr = rate;
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
    table: impl Fn(&mut crate::State) -> &mut BTreeMap<i64, Vec<i64>>,
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
