//! `+UMQTTC`: login, logout, publish (text, hex, a file, binary after `>`), subscribe,
//! unsubscribe, read, the read format, keep-alive. Network operations answer `OK` and end with
//! `+UUMQTTC: <op>,<result>[,...]`; reading answers at once.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::mqttbytes::v4::{
    Packet, Publish, SubAck, Subscribe, SubscribeReasonCode, Unsubscribe,
};
use tokio::sync::oneshot;
use ubx_at::{CmeError, Command, CommandError, Outcome, Params, PayloadRequest, Prompt, Response};

use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::profile::{hex, text};
use crate::services::mqtt::service::Mqtt;
use crate::services::mqtt::session::{ANSWER, login, qos};
use crate::services::mqtt::state::command::Command as SessionCommand;
use crate::services::toolkit::ending::Running;

/// Largest binary publish (op 9) and hex payload (op 2), in bytes.
const MAX_BINARY: usize = 1024;
const MAX_HEX: usize = 512;

/// What an accepted network operation does.
pub(crate) enum Work {
    Login,
    Logout,
    Publish(Publish),
    Subscribe { filter: String, qos: u8 },
    Unsubscribe(String),
}

/// A QoS parameter.
fn qos_param(p: &Params, i: usize) -> Result<u8, CommandError> {
    u8::try_from(p.req_num(i)?)
        .ok()
        .filter(|q| *q <= 2)
        .ok_or_else(|| CmeError::OperationNotSupported.into())
}

fn flag(p: &Params, i: usize) -> Result<bool, CommandError> {
    match p.req_num(i)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CmeError::OperationNotSupported.into()),
    }
}

/// A topic or filter: not empty, no control characters (a publish topic has no wildcard).
fn topic(p: &Params, i: usize, filter: bool) -> Result<String, CommandError> {
    let topic = text(p, i)?;
    if topic.is_empty() || (!filter && topic.contains(['+', '#'])) {
        return Err(CmeError::OperationNotSupported.into());
    }
    Ok(topic)
}

fn publish(topic: String, qos_n: u8, retain: bool, payload: Vec<u8>) -> Publish {
    let mut publish = Publish::new(topic, qos(qos_n), payload);
    publish.retain = retain;
    publish
}

/// `AT+UMQTTC=<op>,...`.
pub(crate) fn umqttc(ctx: &Ctx, cmd: &Command, p: &Params) -> Outcome {
    let op = match p.req_num(0) {
        Ok(op) => op,
        Err(e) => return Outcome::Failed(e),
    };
    let work = match op {
        0 => p.at_most(1).map(|()| Work::Logout),
        1 => p.at_most(1).map(|()| Work::Login),
        2 => publish_text(p),
        3 => publish_file(ctx, p),
        4 => (|| {
            p.at_most(3)?;
            Ok(Work::Subscribe {
                qos: qos_param(p, 1)?,
                filter: topic(p, 2, true)?,
            })
        })(),
        5 => p
            .at_most(2)
            .and_then(|()| topic(p, 1, true))
            .map(Work::Unsubscribe),
        6 => return read(ctx, p).into(),
        7 => return format(ctx, p).into(),
        8 => return keep_alive(ctx, p).into(),
        9 => return binary(ctx, cmd, p),
        _ => Err(CmeError::OperationNotSupported.into()),
    };
    match work {
        Ok(work) => start(ctx, op, work).into(),
        Err(e) => Outcome::Failed(e),
    }
}

/// `AT+UMQTTC=2,<qos>,<retain>,<hex>,"<topic>","<message>"`.
fn publish_text(p: &Params) -> Result<Work, CommandError> {
    p.at_most(6)?;
    let (qos_n, retain, is_hex) = (qos_param(p, 1)?, flag(p, 2)?, flag(p, 3)?);
    let topic = topic(p, 4, false)?;
    let payload = if is_hex {
        let bytes = hex(p, 5)?;
        if bytes.len() > MAX_HEX {
            return Err(CmeError::TextTooLong.into());
        }
        bytes
    } else {
        text(p, 5)?.into_bytes()
    };
    Ok(Work::Publish(publish(topic, qos_n, retain, payload)))
}

/// `AT+UMQTTC=3,<qos>,<retain>,"<topic>","<filename>"`.
fn publish_file(ctx: &Ctx, p: &Params) -> Result<Work, CommandError> {
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

/// `AT+UMQTTC=9,<qos>,<retain>,"<topic>",<length>`: the `>` prompt, then the bytes.
fn binary(ctx: &Ctx, cmd: &Command, p: &Params) -> Outcome {
    let checked = || -> Result<usize, CommandError> {
        p.at_most(5)?;
        qos_param(p, 1)?;
        flag(p, 2)?;
        topic(p, 3, false)?;
        let len = usize::try_from(p.req_num(4)?)
            .ok()
            .filter(|n| (1..=MAX_BINARY).contains(n))
            .ok_or_else(|| CommandError::from(CmeError::OperationNotSupported))?;
        // A binary publish counts among the module's one direct link.
        if ctx.shared.direct_links.active().is_some() {
            return Err(CmeError::OperationNotAllowed.into());
        }
        Ok(len)
    };
    match checked() {
        Ok(len) => Outcome::ExpectPayload(PayloadRequest {
            command: cmd.clone(),
            len,
            prompt: Prompt::Greater,
            stall_timeout: Duration::from_secs(20),
        }),
        Err(e) => Outcome::Failed(e),
    }
}

/// The bytes of `AT+UMQTTC=9` arrived.
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
    let ubx_at::CommandKind::Set(p) = &request.command.kind else {
        return Outcome::Failed(CommandError::Syntax);
    };
    let work = (|| -> Result<Work, CommandError> {
        Ok(Work::Publish(publish(
            topic(p, 3, false)?,
            qos_param(p, 1)?,
            flag(p, 2)?,
            data,
        )))
    })();
    match work {
        Ok(work) => start(ctx, 9, work).into(),
        Err(e) => Outcome::Failed(e),
    }
}

/// Claims the service and runs `work` in the background.
fn start(ctx: &Ctx, op: i64, work: Work) -> Result<Response, CommandError> {
    let mut state = ctx.shared.state();
    state.mqtt.slot.claim(op, MqttFailure::Busy)?;
    let task = tokio::spawn(run(ctx.shared.clone(), ctx.terminal, op, work));
    state.mqtt.slot.set_task(task.abort_handle());
    Ok(Response::ok())
}

async fn run(shared: Arc<Shared>, terminal: TerminalId, op: i64, work: Work) {
    let running = Running::<Mqtt>::start(&shared, op, 0);
    let outcome = perform(&shared, terminal, work).await;
    let urc = match &outcome {
        Ok(Some(extra)) => format!("+UUMQTTC: {op},1,{extra}"),
        Ok(None) => format!("+UUMQTTC: {op},1"),
        Err(_) => format!("+UUMQTTC: {op},0"),
    };
    running.end(
        terminal,
        outcome.map(|_| ()),
        |_| {},
        vec![urc.into_bytes()],
    );
}

/// Carries out `work`; a subscribe's URC tail (`<qos>,"<filter>"`) comes back.
async fn perform(
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

/// `AT+UMQTTC=6[,<1>]`: the oldest message waiting.
fn read(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    if p.present(1) && p.req_num(1)? != 1 {
        return Err(CmeError::OperationNotSupported.into());
    }
    let mut state = ctx.shared.state();
    let Some(message) = state.mqtt.inbox.pop_front() else {
        state.mqtt.slot.record(Err(MqttFailure::NoMessage));
        return Err(CmeError::OperationNotAllowed.into());
    };
    let (tlen, mlen) = (message.topic.len(), message.payload.len());
    let mut line = format!(
        "+UMQTTC: 6,{},{},{tlen},\"{}\",{mlen},\"",
        message.qos,
        tlen + mlen,
        message.topic
    )
    .into_bytes();
    line.extend(message.payload);
    line.push(b'"');
    Ok(Response::line(line))
}

/// `AT+UMQTTC=7,<format>`: recorded (0 to 2).
fn format(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let format = u8::try_from(p.req_num(1)?)
        .ok()
        .filter(|f| *f <= 2)
        .ok_or_else(|| CommandError::from(CmeError::OperationNotSupported))?;
    ctx.shared.state().mqtt.format = format;
    Ok(Response::ok())
}

/// `AT+UMQTTC=8,<0|1>`: a PINGREQ now when 1 (the session pings by itself every keep-alive).
fn keep_alive(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    let on = flag(p, 1)?;
    let commands = ctx
        .shared
        .state()
        .mqtt
        .session
        .as_ref()
        .map(|s| s.commands.clone());
    match (on, commands) {
        (true, Some(commands)) => {
            let _ = commands.try_send(SessionCommand {
                packet: Packet::PingReq,
                done: None,
            });
            Ok(Response::ok())
        }
        (true, None) => Err(CmeError::OperationNotAllowed.into()),
        (false, _) => Ok(Response::ok()),
    }
}
