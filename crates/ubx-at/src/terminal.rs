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
//! Room for abortable commands: a handler could answer with a pending state and the terminal
//! would treat the next received byte as an abort; no command of the LEXI-R10 FTP service is
//! abortable, so that state is not built yet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::command::{Command, CommandKind, parse_line};
use crate::frame;
use crate::line::{Assembled, LineAssembler};
use crate::result::{CmeError, CommandError, FinalResult};
use crate::settings::Settings;

/// One piece of a command's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A line of information text, framed per `ATV`.
    Info(Vec<u8>),
    /// A line of information text directly followed by the final result: in verbose mode its
    /// trailing S3 S4 is left out, so a payload's closing quote is followed by exactly `\r\nOK\r\n`
    /// (`+URDFILE`, host-clients.md).
    InfoTight(Vec<u8>),
    /// Bytes written exactly as given (a `+FREAD` payload).
    Raw(Vec<u8>),
}

/// What a successful command prints before its final `OK`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub parts: Vec<Part>,
}

impl Response {
    /// No information text: just `OK`.
    pub fn ok() -> Self {
        Response::default()
    }

    /// One line of information text.
    pub fn line(text: impl Into<Vec<u8>>) -> Self {
        Response {
            parts: vec![Part::Info(text.into())],
        }
    }

    /// Several lines of information text.
    pub fn lines<I: IntoIterator<Item = T>, T: Into<Vec<u8>>>(lines: I) -> Self {
        Response {
            parts: lines.into_iter().map(|l| Part::Info(l.into())).collect(),
        }
    }
}

/// The prompt printed before a raw payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A single `>`, the last byte before the payload (`+UDWNFILE`, `+UDWNBLOCK`).
    Greater,
    /// The intermediate result `CONNECT` (`+FWRITEHEX`).
    Connect,
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
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether a raw payload is being received.
    pub fn in_payload(&self) -> bool {
        matches!(self.mode, Mode::Payload { .. })
    }

    /// Takes everything written since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Queues an unsolicited result code (text without framing). It is written at once unless a
    /// payload is being received.
    pub fn push_urc(&mut self, text: &[u8]) {
        match self.mode {
            Mode::Command => frame::urc(&self.settings, text, &mut self.output),
            Mode::Payload { .. } => self.held_urcs.push_back(text.to_vec()),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Payload { deadline, .. } => Some(*deadline),
            Mode::Command => None,
        }
    }

    /// Fails a stalled payload once its deadline has passed.
    pub fn handle_timeout<H: Handler>(&mut self, now: Instant, handler: &mut H) {
        if let Mode::Payload { deadline, .. } = &self.mode
            && now >= *deadline
            && let Mode::Payload { request, data, .. } =
                std::mem::replace(&mut self.mode, Mode::Command)
        {
            let outcome = handler.payload_stalled(&request, data);
            self.finish_single(outcome, handler, now);
        }
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
                }
            }
        }
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
            }
        }
        frame::result(&self.settings, FinalResult::Ok, &mut self.output);
    }

    /// Writes the outcome of a command that was alone on its line (after a payload).
    fn finish_single<H: Handler>(&mut self, outcome: Outcome, handler: &mut H, now: Instant) {
        match outcome {
            Outcome::Done(resp) => {
                frame::info(&self.settings, &resp.parts, &mut self.output);
                frame::result(&self.settings, FinalResult::Ok, &mut self.output);
            }
            Outcome::Failed(e) => frame::error(&self.settings, e, &mut self.output),
            Outcome::ExpectPayload(request) => return self.start_payload(request, handler, now),
        }
        while let Some(urc) = self.held_urcs.pop_front() {
            frame::urc(&self.settings, &urc, &mut self.output);
        }
    }

    fn start_payload<H: Handler>(
        &mut self,
        request: PayloadRequest,
        handler: &mut H,
        now: Instant,
    ) {
        match request.prompt {
            Prompt::Greater => self.output.push(b'>'),
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
