//! What the `+UMQTTC` operations share in both syntaxes: their parameters (QoS, flags, topics,
//! publish payloads), the work a network operation does, and the one way it starts and ends
//! (the toolkit's slot and `Running`), reporting as the syntax wants ([`Finish`]).

use std::sync::Arc;

use rumqttc::mqttbytes::v4::{
    Packet, Publish, SubAck, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use tokio::sync::oneshot;
use ubx_at::{CmeError, CommandError, Param, Params, Response};

use crate::module::data_link::LinkEnd;
use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::profile::{hex, text};
use crate::services::mqtt::service::Mqtt;
use crate::services::mqtt::session::{ANSWER, login, qos};
use crate::services::mqtt::state::command::Command as SessionCommand;
use crate::services::toolkit::ending::Running;
use crate::services::toolkit::params;

/// Largest binary publish (op 9), in bytes: ubxlib's `U_CELL_MQTT_PUBLISH_BIN_MAX_LENGTH_BYTES`.
pub(crate) const MAX_BINARY: usize = 1024;
/// Largest text payload (op 2), in bytes: twice ubxlib's hex maximum, what its `publish()`
/// sends a module without binary publish as text. The 1024-byte command line bounds it first.
pub(crate) const MAX_TEXT_MESSAGE: usize = 1024;
/// Largest hex payload (op 2, hex mode), in bytes: ubxlib's
/// `U_CELL_MQTT_PUBLISH_HEX_MAX_LENGTH_BYTES`.
pub(crate) const MAX_HEX: usize = 512;

/// What an accepted network operation does.
pub(crate) enum Work {
    Login,
    Logout,
    Publish(Publish),
    Subscribe { filter: String, qos: u8 },
    Unsubscribe(String),
}

/// How an accepted network operation reports its end.
pub(crate) enum Finish {
    /// `+UUMQTTC: <op>,1[,...]`, or `+UUMQTTC: <op>,0` (the new syntax; subscribe in both).
    Urc,
    /// The old syntax's login: `+UUMQTTC: 1,0`, or `+UUMQTTC: 1,<+UMQTTER code>`.
    LoginUrc,
    /// The old syntax's command that waits for the broker: `+UMQTTC: <op>,<1|0>`, then `OK`.
    Answer(LinkEnd),
}

/// A QoS parameter.
pub(crate) fn qos_param(p: &Params, i: usize) -> Result<u8, CommandError> {
    u8::try_from(p.req_num(i)?)
        .ok()
        .filter(|q| *q <= 2)
        .ok_or_else(|| CmeError::OperationNotSupported.into())
}

pub(crate) fn flag(p: &Params, i: usize) -> Result<bool, CommandError> {
    match p.req_num(i)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CmeError::OperationNotSupported.into()),
    }
}

/// A topic or filter: not empty, no control characters (a publish topic has no wildcard).
pub(crate) fn topic(p: &Params, i: usize, filter: bool) -> Result<String, CommandError> {
    let topic = text(p, i)?;
    if topic.is_empty() || (!filter && topic.contains(['+', '#'])) {
        return Err(CmeError::OperationNotSupported.into());
    }
    Ok(topic)
}

pub(crate) fn publish(topic: String, qos_n: u8, retain: bool, payload: Vec<u8>) -> Publish {
    let mut publish = Publish::new(topic, qos(qos_n), payload);
    publish.retain = retain;
    publish
}

/// `AT+UMQTTC=2,<qos>,<retain>,<hex>,"<topic>","<message>"`; `<hex>` may be left out
/// (`AT+UMQTTC=2,<qos>,<retain>,"<topic>","<message>"`, as Sodaq's SARA-R4 driver sends it).
pub(crate) fn publish_text(p: &Params) -> Result<Work, CommandError> {
    let (qos_n, retain) = (qos_param(p, 1)?, flag(p, 2)?);
    let (is_hex, at) = if matches!(p.get(3), Param::Str(_)) {
        p.at_most(5)?;
        (false, 3)
    } else {
        p.at_most(6)?;
        (flag(p, 3)?, 4)
    };
    let topic = topic(p, at, false)?;
    let payload = if is_hex {
        let bytes = hex(p, at + 1)?;
        if bytes.len() > MAX_HEX {
            return Err(CmeError::TextTooLong.into());
        }
        bytes
    } else {
        params::text(p, at + 1, MAX_TEXT_MESSAGE)?.into_bytes()
    };
    Ok(Work::Publish(publish(topic, qos_n, retain, payload)))
}

/// `AT+UMQTTC=3,<qos>,<retain>,"<topic>","<filename>"`.
pub(crate) fn publish_file(ctx: &Ctx, p: &Params) -> Result<Work, CommandError> {
    p.at_most(5)?;
    let (qos_n, retain) = (qos_param(p, 1)?, flag(p, 2)?);
    let topic = topic(p, 3, false)?;
    let name = ctx
        .shared
        .fs
        .check_name(p.req_str(4)?)
        .map(str::to_string)
        .map_err(|_| CommandError::from(CmeError::InvalidFileName))?;
    let payload = ctx
        .shared
        .fs
        .read(&name)
        .map_err(|_| CommandError::from(CmeError::FileNotFound))?;
    if payload.len() > 256 * 1024 {
        return Err(CmeError::OperationNotSupported.into());
    }
    Ok(Work::Publish(publish(topic, qos_n, retain, payload)))
}

/// Claims the service and runs `work` in the background; `finish` says how it reports.
pub(crate) fn start(ctx: &Ctx, op: i64, work: Work, finish: Finish) -> Result<(), CommandError> {
    let mut state = ctx.shared.state();
    state.mqtt.slot.claim(op, MqttFailure::Busy)?;
    let task = tokio::spawn(run(ctx.shared.clone(), ctx.terminal, op, work, finish));
    state.mqtt.slot.set_task(task.abort_handle());
    Ok(())
}

async fn run(shared: Arc<Shared>, terminal: TerminalId, op: i64, work: Work, finish: Finish) {
    let running = Running::<Mqtt>::start(&shared, op, 0);
    let outcome = perform(&shared, terminal, work).await;
    let urc = match (&finish, &outcome) {
        (Finish::Urc, Ok(Some(extra))) => Some(format!("+UUMQTTC: {op},1,{extra}")),
        (Finish::Urc, Ok(None)) => Some(format!("+UUMQTTC: {op},1")),
        (Finish::Urc, Err(_)) => Some(format!("+UUMQTTC: {op},0")),
        (Finish::LoginUrc, Ok(_)) => Some("+UUMQTTC: 1,0".to_string()),
        (Finish::LoginUrc, Err(f)) => Some(format!("+UUMQTTC: 1,{}", f.class_code().1)),
        (Finish::Answer(_), _) => None,
    };
    let done = outcome.is_ok();
    // The result, then the arrivals held while it ran, under the lock that ends the operation:
    // no arrival can come between them.
    let tidy = |state: &mut crate::module::state::State| {
        if let Some(urc) = urc {
            shared.urc(terminal, urc);
        }
        for held in std::mem::take(&mut state.mqtt.held) {
            shared.urc(terminal, held);
        }
    };
    running.end(terminal, outcome.map(|_| ()), tidy, Vec::new());
    if let Finish::Answer(end) = finish {
        end.answer(result(op, done)).await;
    }
}

/// Carries out `work`; a subscribe's URC tail (`<qos>,"<filter>"`) comes back.
pub(crate) async fn perform(
    shared: &Arc<Shared>,
    terminal: TerminalId,
    work: Work,
) -> Result<Option<String>, MqttFailure> {
    let logged_in = shared.state().mqtt.session.is_some();
    match work {
        Work::Login if logged_in => Err(MqttFailure::LoggedIn),
        Work::Login => login(shared, terminal).await.map(|()| None),
        Work::Logout => exchange(shared, Packet::Disconnect).await.map(|_| {
            shared.state().mqtt.session = None;
            None
        }),
        Work::Publish(publish) => exchange(shared, Packet::Publish(publish))
            .await
            .map(|_| None),
        Work::Subscribe { filter, qos: q } => {
            let answer = exchange(
                shared,
                Packet::Subscribe(Subscribe::new(filter.clone(), qos(q))),
            )
            .await?;
            match answer {
                Packet::SubAck(SubAck { return_codes, .. }) => match return_codes.first() {
                    Some(SubscribeReasonCode::Success(granted)) => {
                        Ok(Some(format!("{},\"{filter}\"", *granted as u8)))
                    }
                    _ => Err(MqttFailure::Subscription),
                },
                _ => Err(MqttFailure::Subscription),
            }
        }
        Work::Unsubscribe(filter) => {
            exchange(shared, Packet::Unsubscribe(Unsubscribe::new(filter)))
                .await
                .map(|_| None)
        }
    }
}

/// Hands a packet to the session and waits for what answers it.
async fn exchange(shared: &Shared, packet: Packet) -> Result<Packet, MqttFailure> {
    let commands = shared
        .state()
        .mqtt
        .session
        .as_ref()
        .map(|s| s.commands.clone())
        .ok_or(MqttFailure::NotLoggedIn)?;
    let (done, answer) = oneshot::channel();
    commands
        .send(SessionCommand {
            packet,
            done: Some(done),
        })
        .await
        .map_err(|_| MqttFailure::NotLoggedIn)?;
    match tokio::time::timeout(ANSWER, answer).await {
        Err(_) => Err(MqttFailure::Timeout),
        Ok(Err(_)) => Err(MqttFailure::NotLoggedIn),
        Ok(Ok(packet)) => Ok(packet),
    }
}

/// The old syntax's answer: `+UMQTTC: <op>,<1|0>` and `OK`.
pub(crate) fn result(op: i64, done: bool) -> Response {
    Response::line(format!("+UMQTTC: {op},{}", u8::from(done)))
}

/// `AT+UMQTTC=8`, both syntaxes: asks the session for a PINGREQ now. `None` when not logged in,
/// `Some(false)` when the session's queue is full.
pub(crate) fn ping_now(shared: &Shared) -> Option<bool> {
    let commands = shared
        .state()
        .mqtt
        .session
        .as_ref()
        .map(|s| s.commands.clone())?;
    Some(
        commands
            .try_send(SessionCommand {
                packet: Packet::PingReq,
                done: None,
            })
            .is_ok(),
    )
}

/// `AT+UMQTTC=7,<format>`, both syntaxes: the format recorded (0 to 2; ubxlib sends 2,
/// verbose).
pub(crate) fn set_format(ctx: &Ctx, p: &Params) -> Result<(), CommandError> {
    p.at_most(2)?;
    let format = u8::try_from(p.req_num(1)?)
        .ok()
        .filter(|f| *f <= 2)
        .ok_or_else(|| CommandError::from(CmeError::OperationNotSupported))?;
    ctx.shared.state().mqtt.format = format;
    Ok(())
}
