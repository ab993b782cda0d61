//! The MQTT client service (MQTT 3.1.1): `+UMQTT` (the profile), `+UMQTTNV` (NVM), `+UMQTTC`
//! (operations), `+UMQTTER` (the last error), and the URCs `+UUMQTTC`, and, in SARA-R4's old
//! syntax, `+UUMQTT<op>` and `+UUMQTTCM`. Which syntax is model data (`mqtt.syntax`): the new
//! one of SARA-R5, LARA-R6 and LEXI-R10, or SARA-R410M-02B's.
//!
//! | file | what |
//! |---|---|
//! | [`profile`] | `+UMQTT`, `+UMQTTNV` |
//! | [`operations`] | `+UMQTTC` |
//! | [`old_syntax`] | `+UMQTTC` in SARA-R4's old syntax (the model's `mqtt.syntax`) |
//! | [`work`] | what both syntaxes share: parameters, the work of an operation, how it ends |
//! | [`session`] | login and the session task over the toolkit's connection (rumqttc's codec) |
//! | [`errors`] | the `+UMQTTER` table; [`state`] the profile, session and inbox |

pub mod errors;
pub mod old_syntax;
pub mod operations;
pub mod profile;
pub mod service;
pub mod session;
pub mod state;
pub mod work;

use ubx_at::{Command, CommandError, CommandKind, Outcome, PayloadRequest, Response};

use crate::module::state::Ctx;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let outcome = match (cmd.name.as_str(), &cmd.kind) {
        ("+UMQTT" | "+UMQTTC" | "+UMQTTNV", CommandKind::Test) => Outcome::Done(Response::ok()),
        ("+UMQTTER", CommandKind::Action) => {
            let (class, code) = ctx.shared.state().mqtt.slot.last_error();
            Outcome::Done(Response::line(format!("+UMQTTER: {class},{code}")))
        }
        ("+UMQTTER", CommandKind::Test) => Outcome::Done(Response::ok()),
        ("+UMQTT", CommandKind::Set(p)) => profile::umqtt(ctx, p).into(),
        ("+UMQTTNV", CommandKind::Set(p)) => profile::umqttnv(ctx, p).into(),
        ("+UMQTTC", CommandKind::Set(p)) => operations::umqttc(ctx, cmd, p),
        ("+UMQTT" | "+UMQTTC" | "+UMQTTNV" | "+UMQTTER", _) => {
            Outcome::Failed(CommandError::Syntax)
        }
        _ => return None,
    };
    Some(outcome)
}

/// The bytes of a binary publish (`AT+UMQTTC=9`).
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
    operations::payload_received(ctx, request, data)
}
