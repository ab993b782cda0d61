//! Power saving: 3GPP power saving mode (`+CPSMS`) and the u-blox PSM report (`+UPSMR`, URC
//! `+UUPSMR`).
//!
//! The emulated module never sleeps, so these commands record what the host asks for and read it
//! back; the timers "granted" are the ones requested, as a network that accepts them would. The
//! `+UUPSMR` URC text is built by [`uupsmr`]; nothing sends it yet, because nothing makes the
//! module enter or leave PSM (docs/FIDELITY.md).

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

use crate::Ctx;

/// Factory timers (3GPP TS 24.008 GPRS Timer 3 / Timer 2 coding): periodic TAU 1 h
/// (`001` = 1 hour units, value 1), active time 1 min (`001` = 1 minute units, value 1).
const FACTORY_TAU: &str = "00100001";
const FACTORY_ACTIVE: &str = "00100001";

#[derive(Debug)]
pub struct PowerState {
    /// `+UPSMR` `<mode>`: 1 reports PSM transitions with `+UUPSMR`.
    pub upsmr: i64,
    /// `+CPSMS` `<mode>` and the requested periodic TAU and active time.
    pub psm: i64,
    pub tau: String,
    pub active: String,
}

impl Default for PowerState {
    fn default() -> Self {
        PowerState {
            upsmr: 0,
            psm: 0,
            tau: FACTORY_TAU.into(),
            active: FACTORY_ACTIVE.into(),
        }
    }
}

impl PowerState {
    /// The (periodic TAU, active time) the network granted: what was requested.
    pub fn granted_timers(&self) -> (&str, &str) {
        (&self.tau, &self.active)
    }
}

/// The `+UUPSMR` URC: `<state>` 0 out of PSM, 1 entering PSM, 2/3 PSM prevented by a client.
pub fn uupsmr(state: u8, client: Option<u8>) -> String {
    match client {
        Some(c) => format!("+UUPSMR: {state},{c}"),
        None => format!("+UUPSMR: {state}"),
    }
}

type Reply = Result<Response, CommandError>;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let reply = match cmd.name.as_str() {
        "+UPSMR" => upsmr(ctx, &cmd.kind),
        "+CPSMS" => cpsms(ctx, &cmd.kind),
        _ => return None,
    };
    Some(reply.into())
}

fn upsmr(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => Ok(Response::line(format!(
            "+UPSMR: {}",
            ctx.shared.state().power.upsmr
        ))),
        CommandKind::Test => Ok(Response::line("+UPSMR: (0-1)")),
        CommandKind::Set(p) => {
            p.at_most(1)?;
            match p.req_num(0)? {
                mode @ (0 | 1) => {
                    ctx.shared.state().power.upsmr = mode;
                    Ok(Response::ok())
                }
                _ => Err(CmeError::OperationNotSupported.into()),
            }
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// A timer of 8 bits written as a string of `0`/`1`.
fn timer(p: &Params, i: usize) -> Result<Option<String>, CommandError> {
    match p.str(i)? {
        None => Ok(None),
        Some(bits) if bits.len() == 8 && bits.iter().all(|b| matches!(b, b'0' | b'1')) => {
            Ok(Some(String::from_utf8_lossy(bits).into_owned()))
        }
        Some(b"") => Ok(None),
        Some(_) => Err(CmeError::OperationNotSupported.into()),
    }
}

fn cpsms(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            let power = &state.power;
            Ok(Response::line(format!(
                "+CPSMS: {},,,\"{}\",\"{}\"",
                power.psm, power.tau, power.active
            )))
        }
        CommandKind::Test => Ok(Response::line(
            "+CPSMS: (0-2),,,(\"00000000\"-\"11111111\"),(\"00000000\"-\"11111111\")",
        )),
        // `AT+CPSMS` alone: PSM off, timers back to factory.
        CommandKind::Action => {
            let mut state = ctx.shared.state();
            let upsmr = state.power.upsmr;
            state.power = PowerState {
                upsmr,
                ..PowerState::default()
            };
            Ok(Response::ok())
        }
        CommandKind::Set(p) => {
            p.at_most(5)?;
            let mode = p.num(0)?.unwrap_or(0);
            if !(0..=2).contains(&mode) {
                return Err(CmeError::OperationNotSupported.into());
            }
            // <Requested_Periodic-RAU> and <Requested_GPRS-READY-timer> are 2G/3G timers: accepted
            // and ignored on an LTE module, but checked.
            timer(p, 1)?;
            timer(p, 2)?;
            let tau = timer(p, 3)?;
            let active = timer(p, 4)?;
            let mut state = ctx.shared.state();
            if mode == 2 {
                // 2: PSM off and every parameter back to its factory value (TS 27.007).
                state.power.psm = 0;
                state.power.tau = FACTORY_TAU.into();
                state.power.active = FACTORY_ACTIVE.into();
                return Ok(Response::ok());
            }
            state.power.psm = mode;
            if let Some(tau) = tau {
                state.power.tau = tau;
            }
            if let Some(active) = active {
                state.power.active = active;
            }
            Ok(Response::ok())
        }
    }
}
