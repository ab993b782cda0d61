//! The SIM: `+CPIN`, `+CIMI`, `+CCID`, and restricted SIM access (`+CRSM`).
//!
//! A ready test SIM of network 001/01 with no PIN. `+CRSM` serves the elementary files drivers
//! read or clear (ICCID, administrative data, forbidden PLMNs) from [`SimState`]; anything else
//! gets the SIM's "file not found" status words, as a real card answers.

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

pub mod state;

pub use state::SimState;

use crate::module::state::Ctx;

pub const IMSI: &str = "001010123456789";
pub const ICCID: &str = "8900101234567890123";

/// SIM commands of 3GPP TS 27.007 §8.18 / TS 51.011.
const READ_BINARY: i64 = 176;
const UPDATE_BINARY: i64 = 214;
const GET_RESPONSE: i64 = 192;
const STATUS: i64 = 242;

/// Elementary files: ICCID, administrative data, forbidden PLMNs.
const EF_ICCID: i64 = 0x2FE2;
const EF_AD: i64 = 0x6FAD;
const EF_FPLMN: i64 = 0x6F7B;

type Reply = Result<Response, CommandError>;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let kind = &cmd.kind;
    let reply = match (cmd.name.as_str(), kind) {
        ("+CIMI", CommandKind::Action) => Ok(Response::line(IMSI)),
        ("+CCID", CommandKind::Action | CommandKind::Read) => {
            Ok(Response::line(format!("+CCID: {ICCID}")))
        }
        ("+CPIN", CommandKind::Read) => Ok(Response::line("+CPIN: READY")),
        ("+CPIN", CommandKind::Set(_) | CommandKind::Test) => Ok(Response::ok()),
        ("+CIMI" | "+CCID", CommandKind::Test) => Ok(Response::ok()),
        ("+CRSM", CommandKind::Set(p)) => crsm(ctx, p),
        ("+CRSM", CommandKind::Test) => Ok(Response::ok()),
        ("+CIMI" | "+CCID" | "+CPIN" | "+CRSM", _) => Err(CommandError::Syntax),
        _ => return None,
    };
    Some(reply.into())
}

/// The ICCID as EF_ICCID holds it: BCD digits, nibbles swapped, padded with `F`.
fn iccid_bcd() -> Vec<u8> {
    let mut digits: Vec<u8> = ICCID.bytes().map(|d| d - b'0').collect();
    if digits.len() % 2 == 1 {
        digits.push(0xF);
    }
    digits
        .chunks(2)
        .map(|pair| (pair[1] << 4) | pair[0])
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `+CRSM: <sw1>,<sw2>[,"<response>"]`.
fn answer(sw1: u8, sw2: u8, data: Option<&[u8]>) -> Reply {
    Ok(Response::line(match data {
        Some(d) => format!("+CRSM: {sw1},{sw2},\"{}\"", hex(d)),
        None => format!("+CRSM: {sw1},{sw2}"),
    }))
}

fn crsm(ctx: &Ctx, p: &Params) -> Reply {
    p.at_most(7)?;
    let command = p.req_num(0)?;
    let file = p.num(1)?;
    let (p1, p2, p3) = (p.num(2)?, p.num(3)?, p.num(4)?);
    for v in [p1, p2, p3].into_iter().flatten() {
        if !(0..=255).contains(&v) {
            return Err(CmeError::OperationNotSupported.into());
        }
    }
    let offset = usize::try_from((p1.unwrap_or(0) << 8) | p2.unwrap_or(0)).unwrap_or(0);
    let len = usize::try_from(p3.unwrap_or(0)).unwrap_or(0);
    match (command, file) {
        (STATUS, _) => answer(0x90, 0, None),
        (READ_BINARY, Some(f)) => {
            let content = match f {
                EF_ICCID => iccid_bcd(),
                // UE operation mode normal, no features, MNC of 2 digits.
                EF_AD => vec![0x00, 0x00, 0x00, 0x02],
                EF_FPLMN => ctx.shared.state().sim.fplmn.clone(),
                _ => return answer(0x6A, 0x82, None),
            };
            if offset >= content.len() {
                // Wrong parameters P1-P2.
                return answer(0x6B, 0x00, None);
            }
            let end = if len == 0 {
                content.len()
            } else {
                (offset + len).min(content.len())
            };
            if offset + len > content.len() {
                // Wrong length: the card tells the right one.
                return answer(0x67, (content.len() - offset) as u8, None);
            }
            answer(0x90, 0, Some(&content[offset..end]))
        }
        (UPDATE_BINARY, Some(EF_FPLMN)) => {
            let data = p.req_str(5)?;
            let bytes = (0..data.len() / 2)
                .map(|i| {
                    std::str::from_utf8(&data[2 * i..2 * i + 2])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .filter(|b| data.len() % 2 == 0 && b.len() == len)
                .ok_or(CmeError::OperationNotSupported)?;
            let mut state = ctx.shared.state();
            let fplmn = &mut state.sim.fplmn;
            if offset + bytes.len() > fplmn.len() {
                return answer(0x67, 0, None);
            }
            fplmn[offset..offset + bytes.len()].copy_from_slice(&bytes);
            answer(0x90, 0, None)
        }
        (UPDATE_BINARY, Some(EF_ICCID | EF_AD)) => {
            // Security status not satisfied: these files are not writable.
            answer(0x69, 0x82, None)
        }
        (UPDATE_BINARY | GET_RESPONSE, Some(_)) => answer(0x6A, 0x82, None),
        (READ_BINARY | UPDATE_BINARY | GET_RESPONSE, None) => Err(CommandError::Syntax),
        _ => Err(CmeError::OperationNotSupported.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_is_swapped_bcd_padded_with_f() {
        assert_eq!(hex(&iccid_bcd()), "980001214365870921F3");
    }
}
