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
//! server that accepts slowly slows the host's writes.
//!
//! Toward a UART (a terminal paced by `--baud`, or a serial port) a real module holds only a few
//! KiB between its socket and the line. There the chunks are [`PIECE`]s, and the driver keeps
//! what waits for the line, and what it has read from the host, to a few pieces: less than
//! [`HOST_WINDOW`] waits each way, so the module stops reading the server when the host's side is
//! full, and after `+++` the host hears no more than that (docs/FIELD.md, "Direct links over a
//! UART"). The terminal's handler says which it is ([`LinkPort::pace`]); an operation asks
//! [`LinkEnd::piece`] how much to read from its socket at a time. The operation says [`LinkEvent::Connected`]
//! (the terminal prints `CONNECT`) or [`LinkEvent::Refused`] (the command fails), then sends data;
//! dropping its [`LinkEnd`] ends data mode (`DISCONNECT`, `OK`). A command that only has to wait
//! (a synchronous `+UDNSRN`) answers with [`LinkEvent::Answer`] and never goes on line. The host's side ends with
//! [`HostInput::Left`] when the host escapes; a [`LinkPort`] dropped without it means the host went
//! away (the terminal closed), and the operation aborts.

use tokio::sync::{mpsc, watch};
use ubx_at::{CommandError, DataModeFraming, Response};

/// Largest chunk carried in one message.
pub const CHUNK: usize = 128 * 1024;
/// Messages in flight per direction: with [`CHUNK`], at most 256 KiB each way.
pub const DEPTH: usize = 2;

/// What may wait between a UART and the operation, each way, at most: 4 KiB, the order of a real
/// module's buffers between a socket and its UART (docs/FIELD.md).
pub const HOST_WINDOW: usize = 4 * 1024;

/// The chunk toward a UART: an eighth of [`HOST_WINDOW`]. One in the operation's hands, [`DEPTH`]
/// in the channel and three at most in the terminal's output (it takes one while less than two
/// wait) stay under the window; the host's side the same way (the driver reads a piece at a
/// time, while less than one waits for room).
pub const PIECE: usize = HOST_WINDOW / 8;

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
    /// The chunk the operation moves: [`PIECE`] toward a UART, [`CHUNK`] otherwise.
    piece: watch::Sender<Option<usize>>,
}

impl LinkPort {
    /// Says whether the terminal is a UART (paced, or a serial port): the operation then moves
    /// [`PIECE`]s. The handler says it for every link a command opens, right after the command.
    pub fn pace(&self, uart: bool) {
        let piece = if uart { PIECE } else { CHUNK };
        self.piece.send_replace(Some(piece));
    }
}

/// The operation's end.
#[derive(Debug)]
pub(crate) struct LinkEnd {
    framing: DataModeFraming,
    events: mpsc::Sender<LinkEvent>,
    host: mpsc::Receiver<HostInput>,
    piece: watch::Receiver<Option<usize>>,
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
    let (piece_tx, piece_rx) = watch::channel(None);
    (
        LinkPort {
            events: events_rx,
            host: Some(host_tx),
            piece: piece_tx,
        },
        LinkEnd {
            framing,
            events: events_tx,
            host: host_rx,
            piece: piece_rx,
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

    /// How many bytes to read from the socket at a time and hand to the host in one message:
    /// [`PIECE`] toward a UART, [`CHUNK`] otherwise. Waits (a moment) until the handler has
    /// said which ([`LinkPort::pace`]).
    pub async fn piece(&mut self) -> usize {
        match self.piece.wait_for(Option::is_some).await {
            Ok(piece) => piece.unwrap_or(CHUNK),
            // The terminal has gone: nothing will be sent anyway.
            Err(_) => CHUNK,
        }
    }

    /// Hands bytes to the host, a [`LinkEnd::piece`] at a time, waiting while the host is
    /// behind. Host bytes that arrive meanwhile are dropped (a retrieve has no use for them); the
    /// host leaving ends the wait.
    pub async fn send(&mut self, data: Vec<u8>) -> Result<(), HostGone> {
        self.send_pieces(data, None).await.map_err(|(gone, _)| gone)
    }

    /// Hands bytes to the host as [`LinkEnd::send`] does, but keeps the host's bytes that arrive
    /// meanwhile in `from_host` (a two-way link: `+USODL`); when the host leaves first, the bytes
    /// it was not handed come back in `unsent`, so the socket keeps them for `+USORD`.
    pub async fn send_keeping(
        &mut self,
        data: Vec<u8>,
        from_host: &mut Vec<Vec<u8>>,
        unsent: &mut Vec<u8>,
    ) -> Result<(), HostGone> {
        self.send_pieces(data, Some(from_host))
            .await
            .map_err(|(gone, rest)| {
                *unsent = rest;
                gone
            })
    }

    /// The pieces of `data`, in order; when the host goes, why and the bytes not handed over.
    async fn send_pieces(
        &mut self,
        mut data: Vec<u8>,
        mut keep: Option<&mut Vec<Vec<u8>>>,
    ) -> Result<(), (HostGone, Vec<u8>)> {
        let piece = self.piece().await;
        loop {
            let rest = if data.len() > piece {
                data.split_off(piece)
            } else {
                Vec::new()
            };
            if let Err((gone, mut undelivered)) = self.deliver(data, keep.as_deref_mut()).await {
                undelivered.extend(rest);
                return Err((gone, undelivered));
            }
            if rest.is_empty() {
                return Ok(());
            }
            data = rest;
        }
    }

    /// One message to the host, once the channel has room; host bytes meanwhile go to `keep`,
    /// or are dropped.
    async fn deliver(
        &mut self,
        data: Vec<u8>,
        mut keep: Option<&mut Vec<Vec<u8>>>,
    ) -> Result<(), (HostGone, Vec<u8>)> {
        loop {
            tokio::select! {
                biased;
                input = self.host.recv() => match input {
                    Some(HostInput::Data(bytes)) => {
                        if let Some(keep) = keep.as_deref_mut() {
                            keep.push(bytes);
                        }
                    }
                    Some(HostInput::Left) => return Err((HostGone::Left, data)),
                    None => return Err((HostGone::HungUp, data)),
                },
                permit = self.events.reserve() => {
                    let Ok(permit) = permit else {
                        return Err((HostGone::HungUp, data));
                    };
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
