//! `+UMQTTC` in the new syntax: login, logout, publish (text, hex, a file, binary after `>`),
//! subscribe, unsubscribe, read, the read format, keep-alive. Network operations answer `OK`
//! and end with `+UUMQTTC: <op>,<result>[,...]`; reading answers at once. A model of the old
//! SARA-R4 syntax goes to [`old_syntax`].

use std::time::Duration;

use ubx_at::{CmeError, Command, CommandError, Outcome, Params, PayloadRequest, Prompt, Response};

use crate::module::model::MqttSyntax;
use crate::module::state::Ctx;
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::old_syntax;
use crate::services::mqtt::session::syntax;
use crate::services::mqtt::work::{
    Finish, MAX_BINARY, Work, flag, ping_now, publish, publish_file, publish_text, qos_param,
    set_format, start, topic,
};

/// `AT+UMQTTC=<op>,...`.
pub(crate) fn umqttc(ctx: &Ctx, cmd: &Command, p: &Params) -> Outcome {
    let op = match p.req_num(0) {
        Ok(op) => op,
        Err(e) => return Outcome::Failed(e),
    };
    let spec = ctx.shared.model.mqtt.as_ref();
    if !spec.is_some_and(|m| m.umqttc_ops.contains(&op)) {
        return Outcome::Failed(CmeError::OperationNotSupported.into());
    }
    if syntax(ctx.shared) == MqttSyntax::SaraR4 {
        return old_syntax::umqttc(ctx, p, op);
    }
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
    match work.and_then(|work| start(ctx, op, work, Finish::Urc)) {
        Ok(()) => Outcome::Done(Response::ok()),
        Err(e) => Outcome::Failed(e),
    }
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
    match work.and_then(|work| start(ctx, 9, work, Finish::Urc)) {
        Ok(()) => Outcome::Done(Response::ok()),
        Err(e) => Outcome::Failed(e),
    }
}

/// `AT+UMQTTC=6[,<1>]`: the oldest message waiting.
fn read(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    if p.present(1) && p.req_num(1)? != 1 {
        return Err(CmeError::OperationNotSupported.into());
    }
    let (message, unread) = {
        let mut state = ctx.shared.state();
        let Some(message) = state.mqtt.inbox.pop_front() else {
            state.mqtt.slot.record(Err(MqttFailure::NoMessage));
            return Err(CmeError::OperationNotAllowed.into());
        };
        (message, state.mqtt.inbox.len())
    };
    // After the answer, the count still unread, unless the last one was read: ubxlib's
    // readMessage() relies on it ("when number of unread messages is 1, then, no URC is
    // received").
    if unread > 0 {
        ctx.shared
            .urc(ctx.terminal, format!("+UUMQTTC: 6,{unread}"));
    }
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

/// `AT+UMQTTC=7,<format>`: recorded.
fn format(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    set_format(ctx, p)?;
    Ok(Response::ok())
}

/// `AT+UMQTTC=8,<0|1>`: a PINGREQ now when 1 (the session pings by itself every keep-alive).
fn keep_alive(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(2)?;
    if !flag(p, 1)? {
        return Ok(Response::ok());
    }
    // A full queue drops this one: the session pings by itself anyway.
    match ping_now(ctx.shared) {
        Some(_) => Ok(Response::ok()),
        None => Err(CmeError::OperationNotAllowed.into()),
    }
}
