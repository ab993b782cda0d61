//! The channel between a terminal in data mode and the operation on the other side of it.
//!
//! A command that goes on line (`AT+UFTPC=6/7`) answers [`ubx_at::Outcome::Pending`] and leaves a
//! [`LinkPort`] with its terminal's handler; the terminal's driver takes it and from then on
//! shuttles bytes between the host and the operation, which holds the [`LinkEnd`]:
//!
//! ```text
//!  host ⇄ driver (Terminal in data mode) ⇄ LinkPort ══ channels ══ LinkEnd ⇄ operation ⇄ server
//! ```
//!
//! Both directions are bounded channels of at most [`DEPTH`] chunks of at most [`CHUNK`] bytes, so
//! a host that reads slowly slows the server's data connection instead of filling memory, and a
//! server that accepts slowly slows the host's writes. The operation says [`LinkEvent::Connected`]
//! (the terminal prints `CONNECT`) or [`LinkEvent::Refused`] (the command fails), then sends data;
//! dropping its [`LinkEnd`] ends data mode (`DISCONNECT`, `OK`). A command that only has to wait
//! (a synchronous `+UDNSRN`) answers with [`LinkEvent::Answer`] and never goes on line. The host's side ends with
//! [`HostInput::Left`] when the host escapes; a [`LinkPort`] dropped without it means the host went
//! away (the terminal closed), and the operation aborts.

use tokio::sync::mpsc;
use ubx_at::{CommandError, DataModeFraming, Response};

/// Largest chunk carried in one message.
pub const CHUNK: usize = 128 * 1024;
/// Messages in flight per direction: with [`CHUNK`], at most 256 KiB each way.
pub const DEPTH: usize = 2;

/// What the operation tells the terminal.
#[derive(Debug)]
pub enum LinkEvent {
    /// Ready: `CONNECT` (framed as the model frames it), then data mode.
    Connected(DataModeFraming),
    /// The operation could not start; the command fails with this error (no `CONNECT`).
    Refused(CommandError),
    /// The command's answer, with no data mode (a synchronous `+UDNSRN` that had to wait for
    /// the resolver).
    Answer(Response),
    /// Bytes for the host.
    Data(Vec<u8>),
}

/// What the terminal tells the operation.
#[derive(Debug)]
pub enum HostInput {
    /// Bytes from the host.
    Data(Vec<u8>),
    /// The host left data mode (escape sequence or DTR): complete what can be completed.
    Left,
}

/// The terminal's end.
#[derive(Debug)]
pub struct LinkPort {
    pub events: mpsc::Receiver<LinkEvent>,
    /// `None` once the host has left.
    pub host: Option<mpsc::Sender<HostInput>>,
}

/// The operation's end.
#[derive(Debug)]
pub(crate) struct LinkEnd {
    framing: DataModeFraming,
    events: mpsc::Sender<LinkEvent>,
    host: mpsc::Receiver<HostInput>,
}

/// The host stopped being there: it left data mode, or its terminal closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostGone {
    /// `+++` or DTR: finish what can be finished.
    Left,
    /// The terminal closed: abort.
    HungUp,
}

/// A connected pair; `framing` is how the terminal frames the session (the model's).
pub(crate) fn channel(framing: DataModeFraming) -> (LinkPort, LinkEnd) {
    let (events_tx, events_rx) = mpsc::channel(DEPTH);
    let (host_tx, host_rx) = mpsc::channel(DEPTH);
    (
        LinkPort {
            events: events_rx,
            host: Some(host_tx),
        },
        LinkEnd {
            framing,
            events: events_tx,
            host: host_rx,
        },
    )
}

impl LinkEnd {
    /// Tells the terminal to say `CONNECT`; false if it has gone.
    pub async fn connected(&self) -> bool {
        let framing = self.framing;
        self.events
            .send(LinkEvent::Connected(framing))
            .await
            .is_ok()
    }

    /// Answers the command that is waiting; no data mode follows.
    pub async fn answer(self, response: Response) {
        let _ = self.events.send(LinkEvent::Answer(response)).await;
    }

    /// Fails the command that is waiting.
    pub async fn refuse(self, error: CommandError) {
        let _ = self.events.send(LinkEvent::Refused(error)).await;
    }

    /// Hands bytes to the host, waiting while the host is behind. Host bytes that arrive
    /// meanwhile are dropped (a retrieve has no use for them); the host leaving ends the wait.
    pub async fn send(&mut self, data: Vec<u8>) -> Result<(), HostGone> {
        loop {
            tokio::select! {
                biased;
                input = self.host.recv() => match input {
                    Some(HostInput::Data(_)) => continue,
                    Some(HostInput::Left) => return Err(HostGone::Left),
                    None => return Err(HostGone::HungUp),
                },
                permit = self.events.reserve() => {
                    let permit = permit.map_err(|_| HostGone::HungUp)?;
                    permit.send(LinkEvent::Data(data));
                    return Ok(());
                }
            }
        }
    }

    /// Hands bytes to the host as [`LinkEnd::send`] does, but keeps the host's bytes that arrive
    /// meanwhile in `from_host` (a two-way link: `+USODL`).
    pub async fn send_keeping(
        &mut self,
        data: Vec<u8>,
        from_host: &mut Vec<Vec<u8>>,
    ) -> Result<(), HostGone> {
        loop {
            tokio::select! {
                biased;
                input = self.host.recv() => match input {
                    Some(HostInput::Data(bytes)) => from_host.push(bytes),
                    Some(HostInput::Left) => return Err(HostGone::Left),
                    None => return Err(HostGone::HungUp),
                },
                permit = self.events.reserve() => {
                    let permit = permit.map_err(|_| HostGone::HungUp)?;
                    permit.send(LinkEvent::Data(data));
                    return Ok(());
                }
            }
        }
    }

    /// Resolves when the host leaves (bytes it sends meanwhile are dropped).
    pub async fn host_gone(&mut self) -> HostGone {
        loop {
            match self.host.recv().await {
                Some(HostInput::Data(_)) => continue,
                Some(HostInput::Left) => return HostGone::Left,
                None => return HostGone::HungUp,
            }
        }
    }

    /// The host's next bytes; `Err` once it has gone.
    pub async fn receive(&mut self) -> Result<Vec<u8>, HostGone> {
        match self.host.recv().await {
            Some(HostInput::Data(data)) => Ok(data),
            Some(HostInput::Left) => Err(HostGone::Left),
            None => Err(HostGone::HungUp),
        }
    }
}
