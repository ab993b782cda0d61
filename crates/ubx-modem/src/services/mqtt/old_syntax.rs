//! `+UMQTTC` in the old SARA-R4 syntax (SARA-R410M-02B, R412M-02B; the model's
//! `mqtt.syntax = "sara-r4"`), as ubxlib's `u_cell_mqtt.c` drives it under
//! `U_CELL_PRIVATE_FEATURE_MQTT_SARA_R4_OLD_SYNTAX` and Sodaq's SARA-R4 library does:
//!
//! | op | answer | then |
//! |---|---|---|
//! | 0 logout | `+UMQTTC: 0,1` once DISCONNECT is sent | — |
//! | 1 login | `+UMQTTC: 1,1` at once | `+UUMQTTC: 1,0` logged in, `+UUMQTTC: 1,<+UMQTTER code>` not |
//! | 2, 3 publish | `+UMQTTC: 2,1` once the broker acknowledged (QoS 0: sent) | — |
//! | 4 subscribe | `+UMQTTC: 4,1` at once | `+UUMQTTC: 4,1,<QoS>,"<filter>"`, or `+UUMQTTC: 4,0` |
//! | 5 unsubscribe | `+UMQTTC: 5,1` once the broker acknowledged | — |
//! | 6 read | `+UMQTTC: 6,1` | every message waiting, each in a `+UUMQTTCM:` |
//! | 7 format | `+UMQTTC: 7,1` | — |
//! | 8 ping `"<broker>"` | `+UMQTTC: 8,1` once the PINGREQ is sent | — |
//!
//! Every answer ends with `OK`; a `<result>` of 0 says the operation failed, and `+UMQTTER`
//! why. Malformed parameters are refused as in the new syntax (`+CME ERROR`).

use ubx_at::{CmeError, CommandError, DataModeFraming, Outcome, Params};

use crate::module::data_link;
use crate::module::state::Ctx;
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::state::Message;
use crate::services::mqtt::work::{
    Finish, Work, ping_now, publish_file, publish_text, qos_param, result, set_format, start, topic,
};

/// `AT+UMQTTC=<op>,...` (`op` is one of the model's).
pub(crate) fn umqttc(ctx: &Ctx, p: &Params, op: i64) -> Outcome {
    let outcome = match op {
        0 => p.at_most(1).map(|()| needs_session(ctx, op, Work::Logout)),
        1 => p.at_most(1).map(|()| login(ctx)),
        2 => publish_text(p).map(|work| needs_session(ctx, op, work)),
        3 => publish_file(ctx, p).map(|work| needs_session(ctx, op, work)),
        4 => subscribe(ctx, p),
        5 => p
            .at_most(2)
            .and_then(|()| topic(p, 1, true))
            .map(|filter| needs_session(ctx, op, Work::Unsubscribe(filter))),
        6 => p.at_most(1).map(|()| read(ctx)),
        7 => format(ctx, p),
        8 => ping(ctx, p),
        _ => Err(CmeError::OperationNotSupported.into()),
    };
    outcome.unwrap_or_else(Outcome::Failed)
}

/// `+UMQTTC: <op>,0`: the operation cannot start; `+UMQTTER` says why.
fn refuse(ctx: &Ctx, op: i64, failure: MqttFailure) -> Outcome {
    ctx.shared.state().mqtt.slot.record(Err(failure));
    Outcome::Done(result(op, false))
}

fn logged_in(ctx: &Ctx) -> bool {
    ctx.shared.state().mqtt.session.is_some()
}

/// An operation on the session that answers once the broker has: the command waits.
fn needs_session(ctx: &Ctx, op: i64, work: Work) -> Outcome {
    if !logged_in(ctx) {
        return refuse(ctx, op, MqttFailure::NotLoggedIn);
    }
    let (port, end) = data_link::channel(DataModeFraming::default());
    match start(ctx, op, work, Finish::Answer(end)) {
        Ok(()) => {
            ctx.link.set(Some(port));
            Outcome::Pending
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// `AT+UMQTTC=1`: `+UMQTTC: 1,1` now, the login's result in `+UUMQTTC: 1,<0|code>`.
fn login(ctx: &Ctx) -> Outcome {
    let refused = {
        let state = ctx.shared.state();
        if state.mqtt.profile.server().is_none() {
            Some(MqttFailure::NoServer)
        } else if state.mqtt.session.is_some() {
            Some(MqttFailure::LoggedIn)
        } else {
            None
        }
    };
    if let Some(failure) = refused {
        return refuse(ctx, 1, failure);
    }
    match start(ctx, 1, Work::Login, Finish::LoginUrc) {
        Ok(()) => Outcome::Done(result(1, true)),
        Err(e) => Outcome::Failed(e),
    }
}

/// `AT+UMQTTC=4,<max_qos>,"<filter>"`: `+UMQTTC: 4,1` now, then `+UUMQTTC: 4,...`.
fn subscribe(ctx: &Ctx, p: &Params) -> Result<Outcome, CommandError> {
    p.at_most(3)?;
    let work = Work::Subscribe {
        qos: qos_param(p, 1)?,
        filter: topic(p, 2, true)?,
    };
    if !logged_in(ctx) {
        return Ok(refuse(ctx, 4, MqttFailure::NotLoggedIn));
    }
    start(ctx, 4, work, Finish::Urc)?;
    Ok(Outcome::Done(result(4, true)))
}

/// `AT+UMQTTC=6`: every message waiting, oldest first, each in its own URC after the `OK`.
fn read(ctx: &Ctx) -> Outcome {
    let messages: Vec<Message> = {
        let mut state = ctx.shared.state();
        let messages: Vec<Message> = state.mqtt.inbox.drain(..).collect();
        if !messages.is_empty() {
            state.mqtt.slot.record(Ok::<(), MqttFailure>(()));
        }
        messages
    };
    if messages.is_empty() {
        return refuse(ctx, 6, MqttFailure::NoMessage);
    }
    let total = messages.len();
    for (i, message) in messages.into_iter().enumerate() {
        ctx.shared
            .urc(ctx.terminal, message_urc(total - i, message));
    }
    Outcome::Done(result(6, true))
}

/// One message as ubxlib's `UUMQTTCM_urc()` parses it: the count of messages still to be read
/// (this one included), then `Topic:`, `Len: QoS:` and `Msg:` lines, no quotes, the payload
/// raw; the AT core frames it with CR LF before and after.
fn message_urc(unread: usize, message: Message) -> Vec<u8> {
    let mut urc = format!(
        "+UUMQTTCM: 6,{unread}\r\nTopic:{}\r\r\nLen:{} QoS:{}\r\r\nMsg:",
        message.topic,
        message.payload.len(),
        message.qos
    )
    .into_bytes();
    urc.extend(message.payload);
    urc
}

/// `AT+UMQTTC=7,<format>`: recorded, answered `+UMQTTC: 7,1`.
fn format(ctx: &Ctx, p: &Params) -> Result<Outcome, CommandError> {
    set_format(ctx, p)?;
    Ok(Outcome::Done(result(7, true)))
}

/// `AT+UMQTTC=8,"<broker>"`: a PINGREQ now (the broker name is ubxlib's and Sodaq's; the
/// session's own broker is pinged).
fn ping(ctx: &Ctx, p: &Params) -> Result<Outcome, CommandError> {
    p.at_most(2)?;
    p.req_str(1)?;
    match ping_now(ctx.shared) {
        None => return Ok(refuse(ctx, 8, MqttFailure::NotLoggedIn)),
        Some(false) => return Ok(refuse(ctx, 8, MqttFailure::Busy)),
        Some(true) => {}
    }
    ctx.shared
        .state()
        .mqtt
        .slot
        .record(Ok::<(), MqttFailure>(()));
    Ok(Outcome::Done(result(8, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_urc_is_what_ubxlib_parses() {
        let urc = message_urc(
            2,
            Message {
                topic: "a/b".into(),
                payload: b"x\r\ny".to_vec(),
                qos: 1,
            },
        );
        assert_eq!(
            urc,
            b"+UUMQTTCM: 6,2\r\nTopic:a/b\r\r\nLen:4 QoS:1\r\r\nMsg:x\r\ny"
        );
    }
}
