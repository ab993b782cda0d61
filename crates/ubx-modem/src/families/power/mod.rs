//! Power saving: 3GPP power saving mode (`+CPSMS`) and the u-blox PSM report (`+UPSMR`, URC
//! `+UUPSMR`).
//!
//! The emulated module never sleeps, so these commands record what the host asks for and read it
//! back; the timers "granted" are the ones requested, as a network that accepts them would. The
//! `+UUPSMR` URC text is built by [`uupsmr`]; nothing sends it yet, because nothing makes the
//! module enter or leave PSM (docs/FIDELITY.md).

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

pub mod state;

pub use state::PowerState;
use state::{FACTORY_ACTIVE, FACTORY_TAU};

use crate::module::state::Ctx;

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
