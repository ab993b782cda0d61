//! Running one AT terminal over a byte stream.
//!
//! [`serve`] is the whole of a transport's work: it reads bytes from the host, feeds them to an
//! [`ubx_at::Terminal`] bound to the module, writes back what the terminal produces, delivers the
//! URCs addressed to this terminal, wakes the terminal when a timer runs out (a payload stall,
//! the escape guard time), and carries a direct link's data between the host and the operation
//! (see [`ubx_modem::data_link`]). The PTY, serial, TCP and console transports of the binary all call
//! it with their own stream; the serial transport also reports the host's DTR line and follows
//! `AT+IPR` ([`serve_with_lines`]).
//!
//! Nothing here waits on one thing at a time: reading, writing, URCs, timers and link data are
//! one `select!`, so a host that stops reading in data mode still has its `+++` seen, and its
//! URCs queue in the terminal, not in the socket. Backpressure is by not asking:
//!
//! - in command mode the host is not read while [`OUTPUT_HIGH_WATER`] bytes of answers wait for
//!   it (a host that floods commands and reads nothing cannot grow memory);
//! - in data mode the host is read, and its bytes timed for the escape, until [`STAGING`] bytes
//!   wait for room in the link: the `+++` a driver sends after its pause is then seen at the
//!   time it was sent even while the server is slower than the host (beyond that, the kernel's
//!   buffer holds the rest and the escape is timed when it is read: docs/FIDELITY.md);
//! - link data is not taken while [`OUTPUT_HIGH_WATER`] bytes wait to be written to the host
//!   (one more chunk may be added to what waits).
//!
//! On a UART (a terminal paced by `--baud`, or a serial port) a real module holds a few KiB
//! between its socket and the line, so there the three bounds are small: link data is taken
//! while less than two [`PIECE`]s wait for the line, and in data mode the host is read a piece at
//! a time while less than one waits for room in the link. With the operation's own piece and
//! the link's two, less than
//! [`HOST_WINDOW`](ubx_modem::data_link::HOST_WINDOW) waits each way (docs/FIELD.md).
//!
//! Time comes from tokio's clock, so tests can run the guard times under a paused clock.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use ubx_at::{CmeError, Event, Outcome, Terminal};
use ubx_field::uart::Uart;

use crate::trace::{TerminalTrace, Tracer};
use ubx_modem::data_link::{HostInput, LinkEvent, LinkPort, PIECE};
use ubx_modem::{Modem, TerminalPort};
use ubx_modem::{Power, TerminalId};

/// Read buffer of an idle terminal: a command line fits. It grows while reads fill it (a payload
/// streaming in) and shrinks back when the host is quiet again, so thousands of idle terminals
/// (a fleet) cost little.
const IDLE_READ: usize = 1024;
/// Read buffer in command mode at most: more than a command line, a payload comes in a few reads.
const COMMAND_READ: usize = 64 * 1024;
/// Read buffer in data mode, where a store streams a whole file: fewer, larger hand-overs.
const DATA_READ: usize = 128 * 1024;

/// Host bytes read in data mode that may wait for room in the link.
pub const STAGING: usize = 512 * 1024;

/// Link data is not taken while this much output waits for the host.
pub const OUTPUT_HIGH_WATER: usize = 128 * 1024;

/// Serves one terminal until the host closes the stream (or a write fails).
pub async fn serve<S>(modem: &Modem, stream: S, tracer: Option<&Tracer>) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_with_lines(modem, stream, tracer, HostLines::default()).await
}

/// What a transport with real lines (a serial port) exchanges with the terminal besides bytes.
#[derive(Debug, Default)]
pub struct HostLines {
    /// The host's DTR line: `false` is off. A drop from on to off leaves data mode under
    /// `AT&D1`/`AT&D2`.
    pub dtr: Option<watch::Receiver<bool>>,
    /// Where the rate an `AT+IPR=<rate>` asks for is sent, once its `OK` has been written and
    /// flushed (the module changes its rate after the final result code).
    pub baud: Option<watch::Sender<u32>>,
    /// `--baud`: pace the terminal's bytes at this many bit/s (8N1), following `AT+IPR`.
    /// `None`: no pacing (a serial port's own rate paces it).
    pub pace: Option<u32>,
}

/// [`serve`], with the host's lines.
pub async fn serve_with_lines<S>(
    modem: &Modem,
    stream: S,
    tracer: Option<&Tracer>,
    lines: HostLines,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut driver = TerminalDriver::open(modem, stream, tracer, lines);
    tracing::info!(terminal = driver.id, "terminal opened");
    if let Some(t) = driver.trace.as_mut() {
        t.event("connect", None);
    }
    let result = driver.run().await;
    tracing::info!(terminal = driver.id, "terminal closed");
    if let Some(t) = driver.trace.as_mut() {
        let why = match &result {
            Ok(()) => "closed".to_string(),
            Err(e) => e.to_string(),
        };
        t.event("disconnect", Some(("cause", why.into())));
    }
    // Dropping the link's sender (the driver's first field) tells a running direct link that the
    // host went away.
    drop(driver);
    result
}

/// One terminal: the AT core, the line to its host and its port on the module.
///
/// [`run`](Self::run) is the I/O: one `select!` whose arms each hand what happened to the method
/// for that event (`on_*`), which tells it what [`Next`]. Every protocol decision is the
/// [`Terminal`]'s; the methods carry bytes, apply backpressure and follow the power.
///
/// The fields drop in the order they are declared: the link's sender first, the module last.
struct TerminalDriver<'m, S> {
    /// The direct link, while there is one.
    link: Link,
    /// Bytes for the host.
    out: Output,
    /// Bytes from the host.
    input: Input,
    term: Terminal,
    writer: WriteHalf<Uart<S>>,
    reader: ReadHalf<Uart<S>>,
    trace: Option<TerminalTrace>,
    port: TerminalPort,
    power: watch::Receiver<Power>,
    /// Rebooting: the terminal is silent and deaf until the module is back.
    off: bool,
    /// In data mode after the last event (a trace records the changes).
    data_mode: bool,
    /// Set by the line when a fault changed the host's bytes.
    disturbed: Arc<AtomicBool>,
    /// A UART (paced, or a serial port): a direct link holds only a few KiB.
    uart: bool,
    rate: Rate,
    dtr: Option<watch::Receiver<bool>>,
    modem: &'m Modem,
    id: TerminalId,
}

/// What the loop does once an event has been handled.
enum Next {
    /// Carry what the terminal produced on: host data to the link, output to the host, traced
    /// as said.
    Settle(Shown),
    /// Nothing more this round.
    Skip,
    /// The terminal is over.
    End(io::Result<()>),
}

/// How a round's output is traced.
#[derive(Debug, Clone, Copy)]
enum Shown {
    /// As output.
    Answer,
    /// As data-mode output (a direct link's bytes).
    Data,
    /// Not at all: it answers bytes a line fault changed.
    Hidden,
}

impl<'m, S> TerminalDriver<'m, S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn open(modem: &'m Modem, stream: S, tracer: Option<&Tracer>, lines: HostLines) -> Self {
        let HostLines { dtr, baud, pace } = lines;
        // A UART: paced here, or a serial port whose rate paces it.
        let uart = pace.is_some() || baud.is_some();
        // The line: paced at `pace` (following AT+IPR), with the line faults of the field.
        let (ipr, ipr_rx) = watch::channel(pace.unwrap_or(0));
        let stream = Uart::new(stream, pace, Some(ipr_rx), modem.field().clone());
        let disturbed = stream.disturbed();
        let power = modem.power();
        let mut port = modem.open_terminal();
        port.handler.set_uart(uart);
        let id = port.id();
        let trace = tracer.map(|t| t.terminal(modem, id));
        let (reader, writer) = tokio::io::split(stream);
        TerminalDriver {
            link: Link::default(),
            out: Output::default(),
            input: Input::new(if uart { PIECE } else { DATA_READ }),
            term: Terminal::new(),
            writer,
            reader,
            trace,
            port,
            power,
            off: false,
            data_mode: false,
            disturbed,
            uart,
            rate: Rate {
                ipr,
                asked: None,
                host: baud,
            },
            dtr,
            modem,
            id,
        }
    }

    /// Serves the terminal until the host closes the stream, a write fails or the module goes.
    async fn run(&mut self) -> io::Result<()> {
        loop {
            self.input.fit(self.term.in_data_mode());
            let deadline = self.term.poll_timeout();
            let room_for_answers = self.out.waiting() < OUTPUT_HIGH_WATER;
            let take_link_data = self.out.waiting() < self.link_high_water();
            let may_read = self.may_read(room_for_answers);
            let next = tokio::select! {
                read = self.reader.read(&mut self.input.buf), if may_read => self.on_read(read),
                n = self.writer.write(self.out.pending()), if self.out.has_pending() => {
                    self.on_written(n).await
                }
                event = next_event(&mut self.link.events),
                    if self.link.events.is_some() && take_link_data => self.on_link_event(event),
                permit = reserve(self.link.host.clone()), if !self.link.queue.is_empty() => {
                    self.on_link_room(permit)
                }
                Some(urc) = self.port.urcs.recv() => self.on_urc(&urc),
                () = sleep_until(deadline), if deadline.is_some() => self.on_timer(),
                changed = dtr_changed(&mut self.dtr), if self.dtr.is_some() => self.on_dtr(changed),
                changed = self.power.changed() => self.on_power(changed),
            };
            match next {
                Next::Settle(shown) => self.settle(shown),
                Next::Skip => {}
                Next::End(result) => return result,
            }
        }
    }

    /// Backpressure on the host: in data mode (and while a command waits for its link) it is read
    /// while little waits for room in the link, in command mode while little output waits for it.
    fn may_read(&self, room_for_answers: bool) -> bool {
        if self.term.in_data_mode() || self.term.is_pending() {
            let staging = if self.uart { PIECE } else { STAGING };
            self.link.staged < staging
        } else {
            room_for_answers
        }
    }

    /// Link data is taken while less than this waits for the host.
    fn link_high_water(&self) -> usize {
        if self.uart {
            2 * PIECE
        } else {
            OUTPUT_HIGH_WATER
        }
    }

    /// Bytes from the host, or the end of its stream.
    fn on_read(&mut self, read: io::Result<usize>) -> Next {
        let n = match read {
            Ok(0) => return Next::End(Ok(())),
            Ok(n) => n,
            Err(e) => return Next::End(Err(e)),
        };
        self.input.note_read(n);
        if self.off {
            // A module that is off hears nothing.
            return Next::Skip;
        }
        let shown = self.trace_input(n);
        let bytes = &self.input.buf[..n];
        self.term.receive(bytes, now(), &mut self.port.handler);
        if let Some(t) = self.trace.as_mut()
            && !self.term.in_payload()
        {
            t.payload_over();
        }
        if let Some(rate) = self.port.handler.take_baud_change() {
            self.rate.asked = Some(rate);
        }
        if let Some(link) = self.port.handler.take_link() {
            self.link.attach(link);
        }
        Next::Settle(shown)
    }

    /// Traces the host's `n` bytes; says how their answer is traced.
    fn trace_input(&mut self, n: usize) -> Shown {
        let Some(t) = self.trace.as_mut() else {
            return Shown::Answer;
        };
        if self.disturbed.swap(false, Ordering::Relaxed) {
            // Changed on the line: the masking of secrets cannot be trusted.
            let fields = serde_json::json!({"dir": "in", "len": n});
            t.event("line-fault", Some(("bytes", fields)));
            return Shown::Hidden;
        }
        let bytes = &self.input.buf[..n];
        if self.term.in_data_mode() {
            t.data_input(bytes);
        } else {
            t.input(bytes);
        }
        Shown::Answer
    }

    /// Output reached the host. Once all of it has, the line is flushed and the rate an
    /// `AT+IPR` asked for applies.
    async fn on_written(&mut self, n: io::Result<usize>) -> Next {
        let all_out = match n {
            Ok(0) => return Next::End(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                self.trace_written(n);
                self.out.advance(n)
            }
            Err(e) => return Next::End(Err(e)),
        };
        if all_out {
            if let Err(e) = self.writer.flush().await {
                return Next::End(Err(e));
            }
            // The `OK` of `AT+IPR` is out: now the rate changes.
            self.rate.apply(self.id);
        }
        Next::Settle(Shown::Answer)
    }

    /// What the operation on the other side of the direct link says; `None` when it is over.
    fn on_link_event(&mut self, event: Option<LinkEvent>) -> Next {
        let outcome = match event {
            Some(LinkEvent::Connected(framing)) => Outcome::DataMode(framing),
            Some(LinkEvent::Answer(response)) => Outcome::Done(response),
            Some(LinkEvent::Refused(e)) => Outcome::Failed(e),
            Some(LinkEvent::Data(data)) => {
                self.term.transmit(&data);
                return Next::Settle(Shown::Data);
            }
            None => {
                self.on_link_over();
                return Next::Settle(Shown::Answer);
            }
        };
        self.term.complete(outcome, now(), &mut self.port.handler);
        Next::Settle(Shown::Answer)
    }

    /// The operation is over: its URC is queued already.
    fn on_link_over(&mut self) {
        self.link.close();
        if self.term.is_pending() {
            // It ended without an answer (it failed in an unexpected way).
            let failed = Outcome::Failed(CmeError::Unknown.into());
            self.term.complete(failed, now(), &mut self.port.handler);
        }
        self.term.end_data_mode();
    }

    /// Room in the link for the host's next input; `None` when the operation has gone.
    fn on_link_room(&mut self, permit: Option<mpsc::OwnedPermit<HostInput>>) -> Next {
        self.link.room(permit);
        Next::Settle(Shown::Answer)
    }

    /// A URC for this terminal.
    fn on_urc(&mut self, urc: &[u8]) -> Next {
        self.term.push_urc(urc);
        Next::Settle(Shown::Answer)
    }

    /// The time [`Terminal::poll_timeout`] asked for has come.
    fn on_timer(&mut self) -> Next {
        self.term.handle_timeout(now(), &mut self.port.handler);
        Next::Settle(Shown::Answer)
    }

    /// The DTR line changed; `None` when its source has gone.
    fn on_dtr(&mut self, changed: Option<bool>) -> Next {
        match changed {
            Some(on) => {
                if let Some(t) = self.trace.as_mut() {
                    t.event("dtr", Some(("on", on.into())));
                }
                self.term.dtr_changed(on)
            }
            None => self.dtr = None,
        }
        Next::Settle(Shown::Answer)
    }

    /// The module's power changed; `Err` when the module is gone, and the terminal with it.
    fn on_power(&mut self, changed: Result<(), watch::error::RecvError>) -> Next {
        if changed.is_err() {
            return Next::End(Ok(()));
        }
        let power = *self.power.borrow_and_update();
        // What the terminal held goes with the power: also when the watch shows only the On of
        // a quick Off-On.
        self.out.discard();
        self.link.reset();
        self.rate.asked = None;
        while self.port.urcs.try_recv().is_ok() {}
        self.term = Terminal::new();
        self.off = power == Power::Off;
        if self.off {
            tracing::info!(terminal = self.id, "module off: the terminal goes silent");
            return Next::Skip;
        }
        tracing::info!(terminal = self.id, "module on: power-on settings");
        // The greeting of `+CSGT`, as at power-on (the terminal's own URC, so it cannot race the
        // power change).
        if let Some(text) = self.modem.greeting() {
            self.term.push_urc(text.as_bytes());
        }
        Next::Settle(Shown::Answer)
    }

    /// After an event: the host's data to the link, the terminal's output to the host.
    fn settle(&mut self, shown: Shown) {
        if self.off {
            // URCs and output of a module that is off are lost.
            while self.port.urcs.try_recv().is_ok() {}
            self.term.drain_output_into(&mut Vec::new());
            return;
        }
        self.forward_host_input();
        self.collect_output(shown);
        let data_mode = self.term.in_data_mode();
        if data_mode != self.data_mode {
            self.data_mode = data_mode;
            if let Some(t) = self.trace.as_mut() {
                t.event("data-mode", Some(("on", data_mode.into())));
            }
        }
    }

    /// Host data for the link, in order; straight to the operation while it has room.
    fn forward_host_input(&mut self) {
        let data = self.term.take_host_data();
        if !data.is_empty() {
            self.link.stage(HostInput::Data(data));
        }
        if let Some(Event::HostLeft(cause)) = self.term.poll_event() {
            tracing::info!(terminal = self.id, ?cause, "host left data mode");
            self.link.stage(HostInput::Left);
        }
        self.link.pump();
    }

    /// Takes the terminal's output for the host; it is traced as `shown` when written.
    fn collect_output(&mut self, shown: Shown) {
        self.term.drain_output_into(&mut self.out.bytes);
        if self.trace.is_some() {
            self.out.note(shown);
        }
    }

    /// `n` more bytes reached the host: one record per write (per kind of bytes in it).
    fn trace_written(&mut self, n: usize) {
        let Some(t) = self.trace.as_mut() else {
            return;
        };
        let (from, to) = (self.out.written, self.out.written + n);
        let mut begin = 0;
        for &(end, shown) in &self.out.kinds {
            let (start, stop) = (begin.max(from), end.min(to));
            if start < stop {
                let bytes = &self.out.bytes[start..stop];
                match shown {
                    Shown::Answer => t.output(bytes),
                    Shown::Data => t.data_output(bytes),
                    // Once, as its first byte goes.
                    Shown::Hidden if start == begin => {
                        let fields = serde_json::json!({"dir": "out", "len": end - begin});
                        t.event("line-fault", Some(("bytes", fields)));
                    }
                    Shown::Hidden => {}
                }
            }
            begin = end;
        }
    }
}

/// The read buffer. An idle terminal's is small; it grows while reads fill it (a payload
/// streaming in) and shrinks back when the host is quiet again.
struct Input {
    buf: Vec<u8>,
    /// The size command mode wants now (grows with full reads, shrinks with small ones).
    command_read: usize,
    /// The size in data mode: [`DATA_READ`], or a [`PIECE`] on a UART.
    data_read: usize,
}

impl Input {
    fn new(data_read: usize) -> Input {
        Input {
            buf: vec![0u8; IDLE_READ],
            command_read: IDLE_READ,
            data_read,
        }
    }

    /// The buffer follows the mode: large while data streams, small again after.
    fn fit(&mut self, data_mode: bool) {
        let want = if data_mode {
            self.data_read
        } else {
            self.command_read
        };
        if self.buf.len() != want {
            self.buf = vec![0u8; want];
        }
    }

    /// `n` bytes were read into the buffer.
    fn note_read(&mut self, n: usize) {
        self.command_read = if n == self.buf.len() {
            (self.command_read * 4).min(COMMAND_READ)
        } else if n < IDLE_READ / 2 {
            IDLE_READ
        } else {
            self.command_read
        };
    }
}

/// Bytes for the host, written from `written` on.
#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    written: usize,
    /// With a trace: how the bytes are traced, as runs (the end of each, and how).
    kinds: Vec<(usize, Shown)>,
}

impl Output {
    fn pending(&self) -> &[u8] {
        &self.bytes[self.written..]
    }

    fn has_pending(&self) -> bool {
        self.written < self.bytes.len()
    }

    /// Bytes that wait for the host.
    fn waiting(&self) -> usize {
        self.bytes.len() - self.written
    }

    /// `n` more bytes were written; true once all are (the buffer is empty again then).
    fn advance(&mut self, n: usize) -> bool {
        self.written += n;
        if self.written != self.bytes.len() {
            return false;
        }
        self.discard();
        // What a large answer or a retrieve grew goes back once it is written.
        if self.bytes.capacity() > OUTPUT_HIGH_WATER {
            self.bytes.shrink_to(IDLE_READ);
        }
        true
    }

    fn discard(&mut self) {
        self.bytes.clear();
        self.written = 0;
        self.kinds.clear();
    }

    /// The bytes added since the last run are traced as `shown`.
    fn note(&mut self, shown: Shown) {
        let end = self.bytes.len();
        match self.kinds.last_mut() {
            Some((last, _)) if *last == end => {}
            Some((last, was)) if std::mem::discriminant(was) == std::mem::discriminant(&shown) => {
                *last = end
            }
            _ => self.kinds.push((end, shown)),
        }
    }
}

/// The direct link, while there is one: the way to the operation, the host's input waiting for
/// room in it, and the operation's events.
#[derive(Default)]
struct Link {
    host: Option<mpsc::Sender<HostInput>>,
    /// Host input waiting for room in the link, in order (`Left` last).
    queue: VecDeque<HostInput>,
    events: Option<mpsc::Receiver<LinkEvent>>,
    /// The bytes in `queue`.
    staged: usize,
}

impl Link {
    /// The link a command just opened.
    fn attach(&mut self, port: LinkPort) {
        self.events = Some(port.events);
        self.host = port.host;
    }

    /// Queues host input, if there is an operation to take it.
    fn stage(&mut self, input: HostInput) {
        if self.host.is_some() {
            self.queue.push_back(input);
        }
    }

    /// Hands the queue to the operation while it has room.
    fn pump(&mut self) {
        while let (Some(tx), Some(input)) = (&self.host, self.queue.pop_front()) {
            match tx.try_send(input) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(input)) => {
                    self.queue.push_front(input);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.lose_host(),
            }
        }
        self.staged = self.queue.iter().map(input_len).sum();
    }

    /// Room for one message; `None` when the operation has gone.
    fn room(&mut self, permit: Option<mpsc::OwnedPermit<HostInput>>) {
        match (permit, self.queue.pop_front()) {
            (Some(permit), Some(input)) => {
                permit.send(input);
            }
            // The operation has gone: what the host sent has nowhere to go.
            _ => self.lose_host(),
        }
    }

    fn lose_host(&mut self) {
        self.host = None;
        self.queue.clear();
    }

    /// The operation is over.
    fn close(&mut self) {
        self.events = None;
        self.lose_host();
    }

    /// The power went: nothing of the link is left.
    fn reset(&mut self) {
        self.close();
        self.staged = 0;
    }
}

/// The line's rate: what `AT+IPR` asked for, applied once the output before it is out.
struct Rate {
    /// The pace of the line.
    ipr: watch::Sender<u32>,
    asked: Option<u32>,
    /// The transport's (a serial port's).
    host: Option<watch::Sender<u32>>,
}

impl Rate {
    fn apply(&mut self, terminal: TerminalId) {
        if let Some(rate) = self.asked.take() {
            tracing::info!(terminal, rate, "AT+IPR: changing the rate");
            if let Some(tx) = &self.host {
                let _ = tx.send(rate);
            }
            let _ = self.ipr.send(rate);
        }
    }
}

/// Bytes of host data in one message.
fn input_len(input: &HostInput) -> usize {
    match input {
        HostInput::Data(d) => d.len(),
        HostInput::Left => 0,
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn next_event(events: &mut Option<mpsc::Receiver<LinkEvent>>) -> Option<LinkEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Room for one message to the operation (owned, so the driver's sender stays free to drop).
async fn reserve(host: Option<mpsc::Sender<HostInput>>) -> Option<mpsc::OwnedPermit<HostInput>> {
    match host {
        Some(tx) => tx.reserve_owned().await.ok(),
        None => None,
    }
}

/// The DTR line's new state; `None` when its source has gone.
async fn dtr_changed(dtr: &mut Option<watch::Receiver<bool>>) -> Option<bool> {
    match dtr {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d.into()).await;
    }
}
