//! Network service: registration (`+CREG`, `+CGREG`, `+CEREG`), the operator (`+COPS`), signal
//! and serving cell (`+CSQ`, `+UCGED`), signalling connection (`+CSCON`, its reports in
//! [`rrc`]), the last reject cause (`+CEER`), the MNO profile (`+UMNOPROF`), the bands
//! (`+UBANDMASK`, and LEXI-R10's `+UBANDCONF`) and the radio access technologies (`+URAT`,
//! where the model has it).
//!
//! The emulated module is camped on one LTE cell of the test network 001/01 (the IMSI's
//! MCC/MNC): every answer below describes that cell, consistently — its tracking area and cell
//! identity are the same in `+CEREG` and `+UCGED`. With the radio off (`+CFUN=0/4`) or after
//! `+COPS=2` the module is not registered and says so. Where the u-blox text is silent the
//! choices are in docs/FIDELITY.md; the cell's figures live in [`CELL`].

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

pub mod registration;
pub mod rrc;
pub mod state;

pub(crate) use registration::is_registered;
pub use state::NetworkState;

use crate::families::pdp;
use crate::module::state::Ctx;

/// The serving cell every answer describes.
pub struct Cell {
    /// MCC and MNC, as in the IMSI (`001010123456789`).
    pub mcc: &'static str,
    pub mnc: &'static str,
    /// `+COPS` long and short names.
    pub name: &'static str,
    /// Tracking area code and E-UTRAN cell identity, hex.
    pub tac: &'static str,
    pub cell_id: &'static str,
    pub earfcn: u32,
    pub band: u32,
    pub physical_id: u32,
    /// RSRP and RSRQ as 3GPP TS 36.133 indices (57: -84 dBm; 28: -6 dB) and in dBm / dB.
    pub rsrp_index: u32,
    pub rsrq_index: u32,
    pub rsrp_dbm: &'static str,
    pub rsrq_db: &'static str,
    pub sinr_db: &'static str,
}

pub const CELL: Cell = Cell {
    mcc: "001",
    mnc: "01",
    name: "ubxftp",
    tac: "0001",
    cell_id: "01A2D001",
    earfcn: 6300,
    band: 20,
    physical_id: 1,
    rsrp_index: 57,
    rsrq_index: 28,
    rsrp_dbm: "-84.00",
    rsrq_db: "-6.00",
    sinr_db: "13.75",
};

/// `<AcT>` of E-UTRAN.
const ACT_EUTRAN: u8 = 7;

/// `+UMNOPROF` values the module accepts (u-blox's common profile numbers).
const MNO_PROFILES: &[i64] = &[0, 1, 2, 3, 4, 5, 6, 8, 19, 21, 28, 31, 39, 90, 100, 101];

type Reply = Result<Response, CommandError>;

const COMMANDS: &[&str] = &[
    "+CREG",
    "+CGREG",
    "+CEREG",
    "+COPS",
    "+CSQ",
    "+UCGED",
    "+CSCON",
    "+CEER",
    "+UMNOPROF",
    "+UBANDMASK",
    "+UBANDCONF",
    "+URAT",
];

/// Executes a network-service command, or `None` when `cmd` belongs to another family.
pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let name = cmd.name.as_str();
    if !COMMANDS.contains(&name) {
        return None;
    }
    let kind = &cmd.kind;
    let reply = match name {
        "+CREG" | "+CGREG" | "+CEREG" => registration(ctx, name, kind),
        "+COPS" => cops(ctx, kind),
        "+CSQ" => csq(ctx, kind),
        "+UCGED" => ucged(ctx, kind),
        "+CSCON" => cscon(ctx, kind),
        "+CEER" => match kind {
            CommandKind::Action => Ok(Response::line("+CEER: \"No report available\"")),
            CommandKind::Test => Ok(Response::ok()),
            _ => Err(CommandError::Syntax),
        },
        "+UMNOPROF" => umnoprof(ctx, kind),
        "+UBANDCONF" => bandconf(ctx, kind),
        "+URAT" => urat(ctx, kind),
        _ => bandmask(ctx, kind),
    };
    Some(reply.into())
}

pub(crate) fn registered(ctx: &Ctx) -> bool {
    is_registered(&ctx.shared.state())
}

/// The registration changed without a command (a fault): each terminal that asked for
/// registration URCs (`+CREG=1/2`, `+CGREG`, `+CEREG`) gets them.
pub(crate) fn registration_changed(shared: &crate::module::state::Shared) {
    let (urcs, stat) = {
        let state = shared.state();
        let stat = u8::from(is_registered(&state));
        let urcs: Vec<String> = [
            ("+CREG", state.network.creg),
            ("+CGREG", state.network.cgreg),
            ("+CEREG", state.network.cereg),
        ]
        .into_iter()
        .filter(|(name, n)| *n > 0 && shared.model.has(name))
        .map(|(name, n)| {
            if n >= 2 && stat == 1 {
                format!(
                    "{name}: {stat},\"{}\",\"{}\",{ACT_EUTRAN}",
                    CELL.tac, CELL.cell_id
                )
            } else {
                format!("{name}: {stat}")
            }
        })
        .collect();
        (urcs, stat)
    };
    tracing::info!(stat, "registration changed");
    for urc in urcs {
        shared.broadcast(urc);
    }
}

fn registration(ctx: &Ctx, name: &str, kind: &CommandKind) -> Reply {
    let max = if name == "+CEREG" { 5 } else { 2 };
    match kind {
        CommandKind::Read => {
            let n = {
                let state = ctx.shared.state();
                match name {
                    "+CREG" => state.network.creg,
                    "+CGREG" => state.network.cgreg,
                    _ => state.network.cereg,
                }
            };
            let stat = u8::from(registered(ctx));
            // Location fields from <n> = 2 on, when registered (3GPP TS 27.007 §7.2, §10.1.22).
            let mut line = format!("{name}: {n},{stat}");
            if n >= 2 && stat == 1 {
                line.push_str(&format!(
                    ",\"{}\",\"{}\",{ACT_EUTRAN}",
                    CELL.tac, CELL.cell_id
                ));
                let state = ctx.shared.state();
                if name == "+CEREG" && n >= 4 && state.power.psm == 1 {
                    // No reject cause; the PSM timers the network granted (+CPSMS), shown only
                    // while PSM is on (TS 27.007: when the network allocated them).
                    let (tau, active) = state.power.granted_timers();
                    line.push_str(&format!(",,,\"{active}\",\"{tau}\""));
                }
            }
            Ok(Response::line(line))
        }
        CommandKind::Test => Ok(Response::line(format!("{name}: (0-{max})"))),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            let n = p.num(0)?.unwrap_or(0);
            if !(0..=max).contains(&n) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            match name {
                "+CREG" => state.network.creg = n,
                "+CGREG" => state.network.cgreg = n,
                _ => state.network.cereg = n,
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// The operator as `+COPS` prints it in `format`.
fn operator(format: i64) -> String {
    match format {
        2 => format!("\"{}{}\"", CELL.mcc, CELL.mnc),
        _ => format!("\"{}\"", CELL.name),
    }
}

fn cops(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let (mode, format) = {
                let state = ctx.shared.state();
                (state.network.cops_mode, state.network.cops_format)
            };
            Ok(Response::line(if registered(ctx) {
                format!("+COPS: {mode},{format},{},{ACT_EUTRAN}", operator(format))
            } else {
                format!("+COPS: {mode}")
            }))
        }
        CommandKind::Test => Ok(Response::line(format!(
            "+COPS: (2,\"{0}\",\"{0}\",\"{1}{2}\",7),,(0-4),(0-2)",
            CELL.name, CELL.mcc, CELL.mnc
        ))),
        CommandKind::Set(p) => cops_set(ctx, p),
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn cops_set(ctx: &Ctx, p: &Params) -> Reply {
    p.at_most(4)?;
    let mode = p.num(0)?.unwrap_or(0);
    let format = p.num(1)?;
    if !(0..=4).contains(&mode) || format.is_some_and(|f| !(0..=2).contains(&f)) {
        return Err(CmeError::OperationNotSupported.into());
    }
    if let Some(act) = p.num(3)?
        && act != i64::from(ACT_EUTRAN)
    {
        return Err(CmeError::OperationNotSupported.into());
    }
    let mut state = ctx.shared.state();
    let format = format.unwrap_or(state.network.cops_format);
    // A manual selection (1, 4) names the network in the format given; 4 falls back to
    // automatic when it is not this one.
    if matches!(mode, 1 | 4) {
        let wanted = p.req_str(2)?;
        let this = operator(format);
        if this.trim_matches('"').as_bytes() != wanted && mode == 1 {
            return Err(CmeError::NoNetworkService.into());
        }
    }
    // Checked in full: from here on nothing fails.
    state.network.cops_format = format;
    match mode {
        // Only the format changes.
        3 => {}
        // Deregister: the contexts go down with the registration, until +COPS=0/1 or +CGATT=1.
        2 => {
            state.network.cops_mode = 2;
            pdp::detach(&mut state);
        }
        // Register (now, or when the radio comes on).
        _ => {
            state.network.cops_mode = mode;
            if !state.pdp.attached {
                pdp::attach(&mut state);
            }
        }
    }
    Ok(Response::ok())
}

fn csq(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Action => Ok(Response::line(if registered(ctx) {
            "+CSQ: 20,99"
        } else {
            "+CSQ: 99,99"
        })),
        CommandKind::Test => Ok(Response::line("+CSQ: (0-31,99),(0-7,99)")),
        _ => Err(CommandError::Syntax),
    }
}

/// `+UCGED`: the serving cell, in mode 2 (one block) or 5 (`+RSRP:` / `+RSRQ:` lines).
fn ucged(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Test => Ok(Response::line("+UCGED: (0,2,5)")),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            match p.req_num(0)? {
                mode @ (0 | 2 | 5) => {
                    ctx.shared.state().network.ucged = mode;
                    Ok(Response::ok())
                }
                _ => Err(CmeError::OperationNotSupported.into()),
            }
        }
        CommandKind::Read => {
            let mode = ctx.shared.state().network.ucged;
            let on = registered(ctx);
            let c = &CELL;
            Ok(match (mode, on) {
                (2, true) => Response::lines([
                    "+UCGED: 2".to_string(),
                    format!("4,4,{},{}", c.mcc, c.mnc),
                    format!(
                        "{},{},50,50,{},{},{},d60814d1,8001,01,{},{},{},3,1,10,{},-50,-6,0,255,255",
                        c.earfcn,
                        c.band,
                        c.tac.to_ascii_lowercase(),
                        c.cell_id.trim_start_matches('0').to_ascii_lowercase(),
                        c.physical_id,
                        c.rsrp_index,
                        c.rsrq_index,
                        c.sinr_db,
                        c.rsrp_index,
                    ),
                ]),
                // Not camped: the RAT line says no service; no cell block.
                (2, false) => Response::lines(["+UCGED: 2", "4,0,,"]),
                (5, true) => Response::lines([
                    format!("+RSRP: {},{},\"{}\"", c.physical_id, c.earfcn, c.rsrp_dbm),
                    format!("+RSRQ: {},{},\"{}\"", c.physical_id, c.earfcn, c.rsrq_db),
                ]),
                (5, false) => Response::lines(["+RSRP: ", "+RSRQ: "]),
                _ => Response::line("+UCGED: 0"),
            })
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn cscon(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            // The signalling connection, as its URCs report it (rrc.rs).
            let mode = u8::from(rrc::connected(ctx.shared));
            let n = ctx.shared.state().network.cscon;
            Ok(Response::line(format!("+CSCON: {n},{mode}")))
        }
        CommandKind::Test => Ok(Response::line("+CSCON: (0-1)")),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            match p.num(0)?.unwrap_or(0) {
                n @ (0 | 1) => {
                    ctx.shared.state().network.cscon = n;
                    Ok(Response::ok())
                }
                _ => Err(CmeError::OperationNotSupported.into()),
            }
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn umnoprof(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+UMNOPROF: {}",
            ctx.shared.state().network.mno_profile
        ))),
        CommandKind::Test => Ok(Response::line(format!(
            "+UMNOPROF: ({})",
            MNO_PROFILES
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ))),
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let profile = p.req_num(0)?;
            if !MNO_PROFILES.contains(&profile) || !matches!(p.num(1)?, None | Some(0 | 1)) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mut state = ctx.shared.state();
            // u-blox: the profile changes only with the radio off (+CFUN=0 or 4).
            if !matches!(state.general.cfun, 0 | 4) {
                return Err(CmeError::OperationNotAllowed.into());
            }
            state.network.mno_profile = profile;
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

fn bandmask(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let (low, high) = ctx.shared.state().network.bandmask;
            Ok(Response::line(format!("+UBANDMASK: 0,{low},{high}")))
        }
        CommandKind::Test => Ok(Response::line(
            "+UBANDMASK: (0),0xffffffffffffffff,0xffffffffffffffff",
        )),
        CommandKind::Set(p) => {
            p.at_most(3)?;
            if p.req_num(0)? != 0 {
                return Err(CmeError::OperationNotSupported.into());
            }
            let mask = |i| -> Result<Option<u64>, CommandError> {
                p.num(i)?
                    .map(|v| u64::try_from(v).map_err(|_| CmeError::OperationNotSupported.into()))
                    .transpose()
            };
            let low = mask(1)?.ok_or(CommandError::Syntax)?;
            let high = mask(2)?.unwrap_or(0);
            if low == 0 && high == 0 {
                // No band at all would leave the module unable to register.
                return Err(CmeError::OperationNotSupported.into());
            }
            ctx.shared.state().network.bandmask = (low, high);
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// LTE bands `+UBANDCONF` names: 1–128, as `+UBANDMASK`'s two masks hold them.
const BANDS: std::ops::RangeInclusive<i64> = 1..=128;

/// `+UBANDCONF` (LEXI-R10): the bands as a list of band numbers, `AT+UBANDCONF=2,5,8,20`, read
/// back in ascending order as `+UBANDCONF: 2,5,8,20`. It sets the same bands as `+UBANDMASK`'s
/// RAT 0 (docs/FIDELITY.md).
fn bandconf(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let (low, high) = ctx.shared.state().network.bandmask;
            let bands: Vec<String> = (0..128u32)
                .filter(|bit| match bit {
                    0..64 => low & (1 << bit) != 0,
                    _ => high & (1 << (bit - 64)) != 0,
                })
                .map(|bit| (bit + 1).to_string())
                .collect();
            Ok(Response::line(format!("+UBANDCONF: {}", bands.join(","))))
        }
        CommandKind::Test => Ok(Response::line("+UBANDCONF: (1-128)")),
        CommandKind::Set(p) => {
            // At least one band (`AT+UBANDCONF=` is a syntax error).
            p.req_num(0)?;
            let (mut low, mut high) = (0u64, 0u64);
            for i in 0..p.len() {
                let band = p.req_num(i)?;
                if !BANDS.contains(&band) {
                    return Err(CmeError::OperationNotSupported.into());
                }
                match band - 1 {
                    bit @ 0..64 => low |= 1 << bit,
                    bit => high |= 1 << (bit - 64),
                }
            }
            ctx.shared.state().network.bandmask = (low, high);
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// `+URAT=<AcT>[,<AcT>…]`: the radio access technologies in order of preference, in the model's
/// numbering and ranges ([`crate::module::model::Rat`]). The emulated cell does not change with
/// them: the setting is recorded and read back (docs/FIDELITY.md).
fn urat(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let Some(rat) = ctx.shared.model.rat.as_ref() else {
        return Err(CommandError::Syntax);
    };
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            let values = state.network.urat.as_deref().unwrap_or(&rat.factory);
            let values: Vec<String> = values.iter().map(i64::to_string).collect();
            Ok(Response::line(format!("+URAT: {}", values.join(","))))
        }
        CommandKind::Test => Ok(Response::line(rat.test.as_str())),
        CommandKind::Set(p) => {
            let values = urat_values(rat, p)?;
            let mut state = ctx.shared.state();
            if rat.radio_off && state.general.cfun != 0 {
                return Err(CmeError::OperationNotAllowed.into());
            }
            state.network.urat = Some(values);
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// The `<AcT>`s of `AT+URAT=`, each within its position's list and given once. In dual mode
/// (`rat.dual_mode`, SARA-U201's `1`) the second is the preferred technology, the factory one
/// when left out; otherwise no second is taken.
fn urat_values(rat: &crate::module::model::Rat, p: &Params) -> Result<Vec<i64>, CommandError> {
    p.at_most(rat.values.len())?;
    p.req_num(0)?;
    let mut values = Vec::new();
    for (i, allowed) in rat.values.iter().enumerate().take(p.len()) {
        let act = p.req_num(i)?;
        if !allowed.contains(&act) || values.contains(&act) {
            return Err(CmeError::OperationNotSupported.into());
        }
        values.push(act);
    }
    if let Some(dual) = rat.dual_mode {
        match (values.first() == Some(&dual), values.len()) {
            (true, 1) => {
                let preferred = rat
                    .factory
                    .get(1)
                    .or_else(|| rat.values.get(1).and_then(|v| v.first()));
                values.extend(preferred);
            }
            (false, 2..) => return Err(CmeError::OperationNotSupported.into()),
            _ => {}
        }
    }
    Ok(values)
}
