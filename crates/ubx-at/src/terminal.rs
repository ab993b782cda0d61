//! The terminal state machine: bytes in, framed bytes out.
//!
//! A [`Terminal`] is one AT interface of the module. It owns the interface's [`Settings`], the
//! line assembler, an output buffer and a queue of URCs. The caller (a transport task) feeds it
//! bytes with [`Terminal::receive`]; complete lines are parsed and executed at once, each command
//! by the terminal itself when it is about framing (`E`, `V`, `Q`, `Z`, `&F`, S-registers,
//! `+CMEE`) or by the [`Handler`] (the modem) otherwise.
//!
//! Commands execute synchronously: a handler answers at once and starts long work (DNS, FTP) in
//! the background, reporting later through [`Terminal::push_urc`]. Because a whole response is
//! produced inside one `receive` call, a URC can never land inside a response; while a raw
//! payload is being received (after a `>` or `CONNECT` prompt) URCs are held back and written
//! after the payload's result.
//!
//! Raw payload mode: a handler that needs bytes (`+UDWNFILE`, `+FWRITEHEX`) answers
//! [`Outcome::ExpectPayload`]; the terminal prints the prompt, collects exactly `len` bytes with
//! no echo and no interpretation, then calls [`Handler::payload_received`]. If the host stalls
//! longer than the request's stall timeout, [`Handler::payload_stalled`] decides the answer
//! (by default `+CME ERROR: FFS TIMEOUT`). The caller learns when to call
//! [`Terminal::handle_timeout`] from [`Terminal::poll_timeout`].
//!
//! Pending commands and data mode: a handler whose answer needs background work first (a direct
//! link must see the server accept `RETR` before it may say `CONNECT`) answers
//! [`Outcome::Pending`]; the terminal holds its URCs and ignores host bytes until the caller
//! settles the command with [`Terminal::complete`]. An [`Outcome::DataMode`] answer prints
//! `CONNECT` and switches the terminal to transparent data mode: host bytes are data (taken with
//! [`Terminal::take_host_data`]), bytes from the data channel are written as they are
//! ([`Terminal::transmit`]), and the [`escape`](crate::escape) detector watches for `+++` framed
//! by the S12 guard time. When the host escapes (or drops DTR under `AT&D1`/`&D2`),
//! [`Terminal::poll_event`] reports [`Event::HostLeft`]; when the data channel is over, the caller
//! calls [`Terminal::end_data_mode`], which prints `DISCONNECT` and `OK` and then the URCs held
//! meanwhile. [`DataModeFraming`] adapts the result codes around it to a model.
//!
//! URCs never split a response, nor a command line being typed: from the first character of a
//! line until its final result code they are held, then written in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::command::{Command, CommandKind, parse_line};
use crate::escape::{Escape, EscapeDetector};
use crate::frame;
use crate::line::{Assembled, LineAssembler};
use crate::result::{CmeError, CommandError, FinalResult, Response};
use crate::settings::Settings;

/// The prompt printed before a raw payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A single `>`, the last byte before the payload (`+UDWNFILE`, `+UDWNBLOCK`).
    Greater,
    /// The intermediate result `CONNECT` (`+FWRITEHEX`).
    Connect,
    /// A single `@`, the last byte before binary socket data (`+USOWR`, `+USOST`).
    At,
}

/// A command's request for a raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRequest {
    /// The command that asked; handed back when the payload is complete.
    pub command: Command,
    /// Exactly this many bytes are read.
    pub len: usize,
    pub prompt: Prompt,
    /// How long the host may pause between bytes before the command fails.
    pub stall_timeout: Duration,
}

/// A handler's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(Response),
    Failed(CommandError),
    ExpectPayload(PayloadRequest),
    /// The result comes later, through [`Terminal::complete`]. The rest of the command line is
    /// not executed (as after V.250's `D`: a command that may go on line ends its line).
    Pending,
    /// `CONNECT`, then transparent data mode, framed as the model frames it.
    DataMode(DataModeFraming),
}

/// The result codes around a data-mode session, which differ between module models: LEXI-R10
/// answers `CONNECT` alone and ends with `DISCONNECT` and `OK`; SARA-R4's syntax table answers
/// `OK` first and a driver for it (MKRNB) waits for `OK`, then `CONNECT`, then `DISCONNECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataModeFraming {
    /// `OK` before `CONNECT`.
    pub ok_before_connect: bool,
    /// `OK` after `DISCONNECT`.
    pub ok_after_disconnect: bool,
}

impl Default for DataModeFraming {
    /// `CONNECT` … `DISCONNECT`, `OK` (V.250 and LEXI-R10).
    fn default() -> Self {
        DataModeFraming {
            ok_before_connect: false,
            ok_after_disconnect: true,
        }
    }
}

/// Something the caller must act on, reported by [`Terminal::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The host left data mode: the data channel must be wound down, then
    /// [`Terminal::end_data_mode`] called.
    HostLeft(LeaveCause),
}

/// How the host left data mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveCause {
    /// The escape sequence (`+++` framed by the guard time).
    Escape,
    /// DTR went from on to off under `AT&D1` or `AT&D2`.
    DtrDropped,
}

impl From<Result<Response, CommandError>> for Outcome {
    fn from(r: Result<Response, CommandError>) -> Self {
        match r {
            Ok(resp) => Outcome::Done(resp),
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// Executes the commands the terminal does not handle itself.
pub trait Handler {
    /// Executes one command. Must not block: long work goes to the background.
    fn execute(&mut self, cmd: &Command, settings: &Settings) -> Outcome;

    /// The payload asked for by [`Outcome::ExpectPayload`] arrived in full.
    fn payload_received(&mut self, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
        let _ = (request, data);
        Outcome::Failed(CommandError::Syntax)
    }

    /// The host stopped sending before the payload was complete.
    fn payload_stalled(&mut self, request: &PayloadRequest, partial: Vec<u8>) -> Outcome {
        let _ = (request, partial);
        Outcome::Failed(CmeError::FfsTimeout.into())
    }
}

#[derive(Debug)]
enum Mode {
    Command,
    Payload {
        request: PayloadRequest,
        data: Vec<u8>,
        deadline: Instant,
    },
    /// A command waits for [`Terminal::complete`]; host bytes are ignored meanwhile.
    Pending,
    /// Transparent data mode.
    Data {
        escape: EscapeDetector,
    },
    /// The host left data mode; waiting for [`Terminal::end_data_mode`]. Host bytes are ignored
    /// and data from the channel is discarded.
    Leaving,
}

/// One AT interface of the module. See the [module documentation](self).
#[derive(Debug)]
pub struct Terminal {
    settings: Settings,
    assembler: LineAssembler,
    mode: Mode,
    /// The previous byte ended a line with CR: a LF now is the host's line ending, not input.
    after_cr: bool,
    held_urcs: VecDeque<Vec<u8>>,
    output: Vec<u8>,
    /// Data mode: host bytes for the data channel.
    host_data: Vec<u8>,
    /// The result codes of the current (or last) data-mode session.
    data_framing: DataModeFraming,
    event: Option<Event>,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Terminal {
    /// A terminal with factory settings.
    pub fn new() -> Self {
        Terminal {
            settings: Settings::factory(),
            assembler: LineAssembler::new(),
            mode: Mode::Command,
            after_cr: false,
            held_urcs: VecDeque::new(),
            output: Vec::new(),
            host_data: Vec::new(),
            data_framing: DataModeFraming::default(),
            event: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether a raw payload is being received.
    pub fn in_payload(&self) -> bool {
        matches!(self.mode, Mode::Payload { .. })
    }

    /// Whether the terminal is in data mode (or winding it down).
    pub fn in_data_mode(&self) -> bool {
        matches!(self.mode, Mode::Data { .. } | Mode::Leaving)
    }

    /// Whether a command waits for [`complete`](Self::complete).
    pub fn is_pending(&self) -> bool {
        matches!(self.mode, Mode::Pending)
    }

    /// Takes everything written since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Appends everything written since the last call to `out` (keeps this terminal's buffer).
    pub fn drain_output_into(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.output);
        } else {
            out.extend_from_slice(&self.output);
            self.output.clear();
        }
    }

    /// Takes the host's data-mode bytes received since the last call.
    pub fn take_host_data(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.host_data)
    }

    /// Writes data-channel bytes to the host, as they are: in data mode, and while it is being
    /// left, until the channel is over (bytes already on their way to the line still go out, as
    /// from a module's UART buffer, before `DISCONNECT`; the operation keeps what it had not
    /// sent yet). In command mode there is no data channel, and nothing is written.
    pub fn transmit(&mut self, data: &[u8]) {
        if let Mode::Data { .. } | Mode::Leaving = self.mode {
            self.output.extend_from_slice(data);
        }
    }

    /// The next event the caller must act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// Queues an unsolicited result code (text without framing). It is written at once unless a
    /// command line is being typed, a command is in progress, or the terminal is in data mode;
    /// then it waits for the final result code.
    pub fn push_urc(&mut self, text: &[u8]) {
        if self.urcs_may_pass() {
            frame::urc(&self.settings, text, &mut self.output);
        } else {
            self.held_urcs.push_back(text.to_vec());
        }
    }

    fn urcs_may_pass(&self) -> bool {
        matches!(self.mode, Mode::Command) && !self.assembler.started()
    }

    /// Writes the URCs held back, once nothing stands in their way.
    fn release_urcs(&mut self) {
        if self.urcs_may_pass() {
            while let Some(urc) = self.held_urcs.pop_front() {
                frame::urc(&self.settings, &urc, &mut self.output);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Payload { deadline, .. } => Some(*deadline),
            Mode::Data { escape } => escape.deadline(),
            Mode::Command | Mode::Pending | Mode::Leaving => None,
        }
    }

    /// Fails a stalled payload once its deadline has passed; in data mode, lets the guard time
    /// decide what held escape characters are.
    pub fn handle_timeout<H: Handler>(&mut self, now: Instant, handler: &mut H) {
        let escaped = match &mut self.mode {
            Mode::Payload { deadline, .. } if now >= *deadline => {
                if let Mode::Payload { request, data, .. } =
                    std::mem::replace(&mut self.mode, Mode::Command)
                {
                    let outcome = handler.payload_stalled(&request, data);
                    self.finish_single(outcome, handler, now);
                }
                false
            }
            Mode::Data { escape } => escape.timeout(now, &mut self.host_data) == Escape::Detected,
            _ => false,
        };
        if escaped {
            self.host_left(LeaveCause::Escape);
        }
        self.release_urcs();
    }

    /// Settles the command left [`Outcome::Pending`]. Ignored when nothing is pending.
    pub fn complete<H: Handler>(&mut self, outcome: Outcome, now: Instant, handler: &mut H) {
        if let Mode::Pending = self.mode {
            self.mode = Mode::Command;
            // The LF of the command's CR LF arrived while the command was pending (dropped
            // then); from here on a LF is the host's data, the first byte of a file included.
            self.after_cr = false;
            self.finish_single(outcome, handler, now);
        }
        self.release_urcs();
    }

    /// The data channel is over (the transfer ended, or was wound down after the host left):
    /// back to command mode with `DISCONNECT` and `OK`, then the URCs held meanwhile.
    pub fn end_data_mode(&mut self) {
        if self.in_data_mode() {
            // Escape characters still held when the channel ends had nowhere to go: dropped.
            self.mode = Mode::Command;
            frame::result(&self.settings, FinalResult::Disconnect, &mut self.output);
            if self.data_framing.ok_after_disconnect {
                frame::result(&self.settings, FinalResult::Ok, &mut self.output);
            }
        }
        self.release_urcs();
    }

    /// The DTR line (the host's "data terminal ready") changed. A drop from on to off leaves data
    /// mode under `AT&D1` and `AT&D2`; `AT&D0` ignores it.
    pub fn dtr_changed(&mut self, on: bool) {
        if let Mode::Data { escape } = &mut self.mode
            && !on
            && self.settings.and_d != 0
        {
            // Escape characters held for the guard time were data after all.
            escape.release_held(&mut self.host_data);
            self.host_left(LeaveCause::DtrDropped);
        }
    }

    fn host_left(&mut self, cause: LeaveCause) {
        self.mode = Mode::Leaving;
        self.event = Some(Event::HostLeft(cause));
    }

    /// Consumes bytes from the host.
    pub fn receive<H: Handler>(&mut self, input: &[u8], now: Instant, handler: &mut H) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                i += 1;
                continue;
            }
            match &mut self.mode {
                Mode::Data { escape } => {
                    let (n, decided) = escape.push(&input[i..], now, &mut self.host_data);
                    i += n;
                    if decided == Escape::Detected {
                        self.host_left(LeaveCause::Escape);
                    }
                    continue;
                }
                // The module is busy with the command (or with leaving data mode): what the host
                // sends meanwhile is dropped (docs/FIDELITY.md).
                Mode::Pending | Mode::Leaving => break,
                Mode::Command | Mode::Payload { .. } => {}
            }
            if let Mode::Payload {
                request,
                data,
                deadline,
            } = &mut self.mode
            {
                let take = (request.len - data.len()).min(input.len() - i);
                data.extend_from_slice(&input[i..i + take]);
                i += take;
                *deadline = now + request.stall_timeout;
                if data.len() == request.len
                    && let Mode::Payload { request, data, .. } =
                        std::mem::replace(&mut self.mode, Mode::Command)
                {
                    let outcome = handler.payload_received(&request, data);
                    self.finish_single(outcome, handler, now);
                }
                continue;
            }
            i += 1;
            if self.settings.echo {
                self.output.push(b);
            }
            match self.assembler.push(b, &self.settings) {
                None => {
                    // A CR that ends nothing (outside a line) still swallows the host's LF.
                    if b == b'\r' && b == self.settings.s3 {
                        self.after_cr = true;
                    }
                }
                Some(done) => {
                    self.after_cr = b == b'\r';
                    match done {
                        Assembled::Overlong => {
                            frame::result(&self.settings, FinalResult::Error, &mut self.output)
                        }
                        Assembled::Line(body) => self.execute_line(&body, handler, now),
                    }
                    // Right after the final result code, before the next line can begin.
                    self.release_urcs();
                }
            }
        }
        self.release_urcs();
    }

    fn execute_line<H: Handler>(&mut self, body: &[u8], handler: &mut H, now: Instant) {
        let commands = match parse_line(body) {
            Ok(c) => c,
            Err(e) => return frame::error(&self.settings, e, &mut self.output),
        };
        let alone = commands.len() == 1;
        for cmd in &commands {
            let outcome = match self.builtin(cmd) {
                Some(outcome) => outcome,
                None => handler.execute(cmd, &self.settings),
            };
            match outcome {
                Outcome::Done(resp) => frame::info(&self.settings, &resp.parts, &mut self.output),
                Outcome::Failed(e) => return frame::error(&self.settings, e, &mut self.output),
                // Payload commands must stand alone on their line (SARA-R4 manual §1.1.5).
                Outcome::ExpectPayload(_) if !alone => {
                    return frame::error(&self.settings, CommandError::Syntax, &mut self.output);
                }
                Outcome::ExpectPayload(request) => {
                    return self.start_payload(request, handler, now);
                }
                Outcome::Pending => {
                    self.mode = Mode::Pending;
                    return;
                }
                Outcome::DataMode(framing) => return self.enter_data_mode(framing, now),
            }
        }
        frame::result(&self.settings, FinalResult::Ok, &mut self.output);
    }

    fn enter_data_mode(&mut self, framing: DataModeFraming, now: Instant) {
        if framing.ok_before_connect {
            frame::result(&self.settings, FinalResult::Ok, &mut self.output);
        }
        frame::result(&self.settings, FinalResult::Connect, &mut self.output);
        self.data_framing = framing;
        self.host_data.clear();
        self.mode = Mode::Data {
            escape: EscapeDetector::new(self.settings.s2, self.settings.s12, now),
        };
    }

    /// Writes the outcome of a command that was alone on its line (after a payload).
    fn finish_single<H: Handler>(&mut self, outcome: Outcome, handler: &mut H, now: Instant) {
        match outcome {
            Outcome::Done(resp) => {
                frame::info(&self.settings, &resp.parts, &mut self.output);
                frame::result(&self.settings, FinalResult::Ok, &mut self.output);
            }
            Outcome::Failed(e) => frame::error(&self.settings, e, &mut self.output),
            Outcome::ExpectPayload(request) => self.start_payload(request, handler, now),
            Outcome::Pending => self.mode = Mode::Pending,
            Outcome::DataMode(framing) => self.enter_data_mode(framing, now),
        }
        self.release_urcs();
    }

    fn start_payload<H: Handler>(
        &mut self,
        request: PayloadRequest,
        handler: &mut H,
        now: Instant,
    ) {
        match request.prompt {
            Prompt::Greater => self.output.push(b'>'),
            Prompt::At => self.output.push(b'@'),
            Prompt::Connect => {
                frame::result(&self.settings, FinalResult::Connect, &mut self.output)
            }
        }
        if request.len == 0 {
            let outcome = handler.payload_received(&request, Vec::new());
            return self.finish_single(outcome, handler, now);
        }
        let deadline = now + request.stall_timeout;
        self.mode = Mode::Payload {
            request,
            data: Vec::new(),
            deadline,
        };
    }

    /// The commands that shape framing, handled here so every terminal behaves alike.
    fn builtin(&mut self, cmd: &Command) -> Option<Outcome> {
        let s = &mut self.settings;
        let flag = |kind: &CommandKind| -> Result<bool, CommandError> {
            match kind {
                CommandKind::Action => Ok(false),
                CommandKind::Set(p) => match p.num(0)? {
                    None | Some(0) => Ok(false),
                    Some(1) => Ok(true),
                    Some(_) => Err(CommandError::Syntax),
                },
                _ => Err(CommandError::Syntax),
            }
        };
        let result = match cmd.name.as_str() {
            "E" => flag(&cmd.kind).map(|v| s.echo = v),
            "V" => flag(&cmd.kind).map(|v| s.verbose = v),
            "Q" => flag(&cmd.kind).map(|v| s.quiet = v),
            "&D" => ampersand(&cmd.kind, &[0, 1, 2]).map(|v| s.and_d = v),
            "&C" => ampersand(&cmd.kind, &[0, 1]).map(|v| s.and_c = v),
            "&K" => ampersand(&cmd.kind, &[0, 3, 4]).map(|v| s.and_k = v),
            "&S" => ampersand(&cmd.kind, &[0, 1]).map(|v| s.and_s = v),
            "Z" | "&F" => match &cmd.kind {
                CommandKind::Action => {
                    *s = Settings::factory();
                    Ok(())
                }
                CommandKind::Set(p) if p.num(0) == Ok(Some(0)) => {
                    *s = Settings::factory();
                    Ok(())
                }
                _ => Err(CommandError::Syntax),
            },
            "+CMEE" => match &cmd.kind {
                CommandKind::Read => {
                    return Some(Outcome::Done(Response::line(format!("+CMEE: {}", s.cmee))));
                }
                CommandKind::Test => return Some(Outcome::Done(Response::line("+CMEE: (0-2)"))),
                CommandKind::Action => {
                    s.cmee = 0;
                    Ok(())
                }
                CommandKind::Set(p) => match p.at_most(1).and_then(|_| p.num(0)) {
                    Ok(v @ (None | Some(0..=2))) => {
                        s.cmee = v.unwrap_or(0) as u8;
                        Ok(())
                    }
                    Ok(Some(_)) => Err(CmeError::OperationNotSupported.into()),
                    Err(e) => Err(e),
                },
            },
            name if name.starts_with('S') && name.len() > 1 => {
                let n: u32 = name[1..].parse().ok()?;
                s.s_register(n)?;
                match &cmd.kind {
                    CommandKind::Read => {
                        let v = s.s_register(n).unwrap_or(0);
                        return Some(Outcome::Done(Response::line(format!("{v:03}"))));
                    }
                    CommandKind::Set(p) => match p.num(0) {
                        Ok(Some(v)) if s.set_s_register(n, v) => Ok(()),
                        _ => Err(CommandError::Syntax),
                    },
                    _ => Err(CommandError::Syntax),
                }
            }
            _ => return None,
        };
        Some(result.map(|()| Response::ok()).into())
    }
}

/// `&<x>` and `&<x><n>` (V.250): `n` among `allowed`; `&<x>` alone is `&<x>0`.
fn ampersand(kind: &CommandKind, allowed: &[u8]) -> Result<u8, CommandError> {
    match kind {
        CommandKind::Action => Ok(0),
        CommandKind::Set(p) => match p.num(0) {
            Ok(Some(v)) => u8::try_from(v)
                .ok()
                .filter(|v| allowed.contains(v))
                .ok_or(CommandError::Syntax),
            _ => Err(CommandError::Syntax),
        },
        _ => Err(CommandError::Syntax),
    }
}
