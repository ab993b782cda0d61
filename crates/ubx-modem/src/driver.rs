//! Running one AT terminal over a byte stream.
//!
//! [`serve`] is the whole of a transport's work: it reads bytes from the host, feeds them to an
//! [`ubx_at::Terminal`] bound to the module, writes back what the terminal produces, delivers the
//! URCs addressed to this terminal, wakes the terminal when a timer runs out (a payload stall,
//! the escape guard time), and carries a direct link's data between the host and the operation
//! (see [`crate::data_link`]). The PTY, serial, TCP and console transports of the binary all call
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
//! Time comes from tokio's clock, so tests can run the guard times under a paused clock.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use ubx_at::{CmeError, Event, Outcome, Terminal};

use crate::data_link::{HostInput, LinkEvent};
use crate::field::uart::Uart;
use crate::trace::Tracer;
use crate::{Modem, Power};

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
    let HostLines {
        mut dtr,
        baud,
        pace,
    } = lines;
    // A rate asked for, applied once the output before it is out.
    let mut new_baud: Option<u32> = None;
    // The line: paced at `pace` (following AT+IPR), with the line faults of the field.
    let (ipr_tx, ipr_rx) = watch::channel(pace.unwrap_or(0));
    let stream = Uart::new(stream, pace, Some(ipr_rx), modem.field().clone());
    let disturbed = stream.disturbed();
    let mut power = modem.power();
    // Rebooting: the terminal is silent and deaf until the module is back.
    let mut off = false;
    let mut port = modem.open_terminal();
    let id = port.id();
    let mut trace = tracer.map(|t| t.terminal(id));
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut term = Terminal::new();
    let mut buf = vec![0u8; IDLE_READ];
    // The buffer size command mode wants now (grows with full reads, shrinks with small ones).
    let mut command_read = IDLE_READ;
    // Bytes for the host, written from `written` on.
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0;
    // The direct link, while there is one: its events, and the way to the operation.
    let mut link_events: Option<mpsc::Receiver<LinkEvent>> = None;
    let mut link_host: Option<mpsc::Sender<HostInput>> = None;
    // Host input waiting for room in the link, in order (`Left` last), and its size in bytes.
    let mut to_link: VecDeque<HostInput> = VecDeque::new();
    let mut staged = 0;
    tracing::info!(terminal = id, "terminal opened");
    let result = loop {
        let deadline = term.poll_timeout();
        // The read buffer follows the mode: large while data streams, small again after.
        let want = if term.in_data_mode() {
            DATA_READ
        } else {
            command_read
        };
        if buf.len() != want {
            buf = vec![0u8; want];
        }
        let take_link_data = out.len() - written < OUTPUT_HIGH_WATER;
        let may_read = if term.in_data_mode() || term.is_pending() {
            staged < STAGING
        } else {
            take_link_data
        };
        let mut data_out = false;
        // The host's bytes were changed by a line fault: their echo is not traced either.
        let mut hide_output = false;
        // The arms only say what happened; it is handled below, once no branch borrows anything.
        let happened = tokio::select! {
            read = reader.read(&mut buf), if may_read => Happened::Read(read),
            n = writer.write(&out[written..]), if written < out.len() => Happened::Wrote(n),
            event = next_event(&mut link_events), if link_events.is_some() && take_link_data => {
                Happened::Link(event)
            }
            permit = reserve(link_host.clone()), if !to_link.is_empty() => Happened::Room(permit),
            Some(urc) = port.urcs.recv() => Happened::Urc(urc),
            () = sleep_until(deadline), if deadline.is_some() => Happened::Timer,
            changed = dtr_changed(&mut dtr), if dtr.is_some() => Happened::Dtr(changed),
            changed = power.changed() => Happened::Power(changed.is_ok().then(|| *power.borrow_and_update())),
        };
        match happened {
            Happened::Read(read) => {
                let n = match read {
                    Ok(0) => break Ok(()),
                    Ok(n) => n,
                    Err(e) => break Err(e),
                };
                command_read = if n == buf.len() {
                    (command_read * 4).min(COMMAND_READ)
                } else if n < IDLE_READ / 2 {
                    IDLE_READ
                } else {
                    command_read
                };
                if off {
                    // A module that is off hears nothing.
                    continue;
                }
                if let Some(t) = trace.as_mut() {
                    if disturbed.swap(false, std::sync::atomic::Ordering::Relaxed) {
                        // Changed on the line: the masking of secrets cannot be trusted.
                        t.input(b"[bytes changed by a line fault: not recorded]");
                        hide_output = true;
                    } else if term.in_data_mode() {
                        t.data_input(&buf[..n]);
                    } else {
                        t.input(&buf[..n]);
                    }
                }
                term.receive(&buf[..n], now(), &mut port.handler);
                if let Some(rate) = port.handler.take_baud_change() {
                    new_baud = Some(rate);
                }
                if let Some(link) = port.handler.take_link() {
                    link_events = Some(link.events);
                    link_host = link.host;
                }
            }
            Happened::Wrote(n) => {
                match n {
                    Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(e) => break Err(e),
                }
                if written == out.len() {
                    out.clear();
                    written = 0;
                    // What a large answer or a retrieve grew goes back once it is written.
                    if out.capacity() > OUTPUT_HIGH_WATER {
                        out.shrink_to(IDLE_READ);
                    }
                    if let Err(e) = writer.flush().await {
                        break Err(e);
                    }
                    // The `OK` of `AT+IPR` is out: now the rate changes.
                    if let Some(rate) = new_baud.take() {
                        tracing::info!(terminal = id, rate, "AT+IPR: changing the rate");
                        if let Some(tx) = &baud {
                            let _ = tx.send(rate);
                        }
                        let _ = ipr_tx.send(rate);
                    }
                }
            }
            Happened::Link(Some(LinkEvent::Connected(framing))) => {
                term.complete(Outcome::DataMode(framing), now(), &mut port.handler)
            }
            Happened::Link(Some(LinkEvent::Answer(response))) => {
                term.complete(Outcome::Done(response), now(), &mut port.handler)
            }
            Happened::Link(Some(LinkEvent::Refused(e))) => {
                term.complete(Outcome::Failed(e), now(), &mut port.handler)
            }
            Happened::Link(Some(LinkEvent::Data(data))) => {
                data_out = true;
                term.transmit(&data);
            }
            Happened::Link(None) => {
                // The operation is over: its URC is queued already.
                link_events = None;
                link_host = None;
                to_link.clear();
                if term.is_pending() {
                    // It ended without an answer (it failed in an unexpected way).
                    let failed = Outcome::Failed(CmeError::Unknown.into());
                    term.complete(failed, now(), &mut port.handler);
                }
                term.end_data_mode();
            }
            Happened::Room(permit) => match (permit, to_link.pop_front()) {
                (Some(permit), Some(input)) => {
                    permit.send(input);
                }
                // The operation has gone: what the host sent has nowhere to go.
                _ => {
                    link_host = None;
                    to_link.clear();
                }
            },
            Happened::Urc(urc) => term.push_urc(&urc),
            Happened::Timer => term.handle_timeout(now(), &mut port.handler),
            Happened::Dtr(Some(on)) => term.dtr_changed(on),
            Happened::Dtr(None) => dtr = None,
            Happened::Power(Some(power)) => {
                // What the terminal held goes with the power: also when the watch shows only
                // the On of a quick Off-On.
                out.clear();
                written = 0;
                link_events = None;
                link_host = None;
                to_link.clear();
                staged = 0;
                new_baud = None;
                while port.urcs.try_recv().is_ok() {}
                term = Terminal::new();
                off = power == Power::Off;
                if off {
                    tracing::info!(terminal = id, "module off: the terminal goes silent");
                    continue;
                }
                tracing::info!(terminal = id, "module on: power-on settings");
                // The greeting of `+CSGT`, as at power-on (the terminal's own URC, so it cannot
                // race the power change).
                if let Some(text) = modem.greeting() {
                    term.push_urc(text.as_bytes());
                }
            }
            // The module is gone; the terminal ends with it.
            Happened::Power(None) => break Ok(()),
        }
        if off {
            // URCs and output of a module that is off are lost.
            while port.urcs.try_recv().is_ok() {}
            term.drain_output_into(&mut Vec::new());
            continue;
        }
        // Host data for the link, in order; straight to the operation while it has room.
        let data = term.take_host_data();
        if !data.is_empty() && link_host.is_some() {
            to_link.push_back(HostInput::Data(data));
        }
        if let Some(Event::HostLeft(cause)) = term.poll_event() {
            tracing::info!(terminal = id, ?cause, "host left data mode");
            if link_host.is_some() {
                to_link.push_back(HostInput::Left);
            }
        }
        while let (Some(tx), Some(input)) = (&link_host, to_link.pop_front()) {
            match tx.try_send(input) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(input)) => {
                    to_link.push_front(input);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    link_host = None;
                    to_link.clear();
                }
            }
        }
        staged = to_link.iter().map(input_len).sum();
        let before = out.len();
        term.drain_output_into(&mut out);
        if let Some(t) = trace.as_mut()
            && out.len() > before
        {
            if hide_output {
                t.output(b"[answer to bytes changed by a line fault: not recorded]");
            } else if data_out {
                t.data_output(&out[before..]);
            } else {
                t.output(&out[before..]);
            }
        }
    };
    tracing::info!(terminal = id, "terminal closed");
    // Dropping the link's sender tells a running direct link that the host went away.
    drop(link_host);
    result
}

/// Bytes of host data in one message.
fn input_len(input: &HostInput) -> usize {
    match input {
        HostInput::Data(d) => d.len(),
        HostInput::Left => 0,
    }
}

/// One thing the driver's loop saw.
enum Happened {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Link(Option<LinkEvent>),
    Room(Option<mpsc::OwnedPermit<HostInput>>),
    Urc(Vec<u8>),
    Timer,
    Dtr(Option<bool>),
    /// The module's power changed; `None` when the module is gone.
    Power(Option<Power>),
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
