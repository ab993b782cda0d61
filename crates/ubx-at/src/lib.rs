//! # ubx-at — the AT command protocol, without I/O
//!
//! This crate is the part of an emulated u-blox module that speaks the AT protocol: it turns the
//! bytes a host writes into command lines, parses them into [`Command`]s, hands each command to a
//! [`Handler`] (the modem), and frames what the handler answers — information text, final result
//! codes, `+CME ERROR`s and unsolicited result codes (URCs) — exactly as a u-blox module does
//! under the current `ATE` / `ATV` / `ATQ` / `+CMEE` settings.
//!
//! It does no I/O and never looks at a clock: callers pass bytes in with
//! [`Terminal::receive`], the current time with it, and take bytes out with
//! [`Terminal::take_output`]. That makes every framing rule deterministic and unit-testable, the
//! same design quinn-proto and rustls use for their protocol state machines.
//!
//! ```
//! use std::time::Instant;
//! use ubx_at::{Command, Handler, Outcome, Response, Settings, Terminal};
//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn execute(&mut self, cmd: &Command, _: &Settings) -> Outcome {
//!         match cmd.name.as_str() {
//!             "+CGMI" => Outcome::Done(Response::line("u-blox")),
//!             _ => Outcome::Failed(ubx_at::CommandError::Syntax),
//!         }
//!     }
//! }
//!
//! let mut term = Terminal::new();
//! term.receive(b"ATE0\r\nAT+CGMI\r\n", Instant::now(), &mut Hello);
//! assert_eq!(term.take_output(), b"ATE0\r\r\nOK\r\n\r\nu-blox\r\n\r\nOK\r\n");
//! ```
//!
//! Layout, one concept per file:
//! - [`line`]: assembling command lines from a byte stream (S3 terminator, CR/CRLF, overlong lines);
//! - [`command`]: parsing a command line into basic and extended commands and their parameters;
//! - [`result`]: final result codes and the one table of `+CME ERROR` codes;
//! - [`settings`]: the per-terminal settings that shape framing (E, V, Q, +CMEE, S-registers);
//! - [`frame`]: turning responses and URCs into bytes;
//! - [`escape`]: telling `+++` from data by the S12 guard time;
//! - [`terminal`]: the state machine tying them together, with raw payload mode (`>` prompts),
//!   pending commands and transparent data mode.

pub mod command;
pub mod escape;
pub mod frame;
pub mod line;
pub mod result;
pub mod settings;
pub mod terminal;
pub mod text;

pub use command::{Command, CommandKind, Param, Params, parse_line};
pub use result::{CmeError, CommandError, FinalResult, Part, Response};
pub use settings::Settings;
pub use terminal::{
    DataModeFraming, Event, Handler, LeaveCause, Outcome, PayloadRequest, Prompt, Terminal,
};

/// Longest command line the module accepts, counting the terminating S3 character
/// (SARA-R4 manual §1.1.5; LEXI-R10's own page was not found, see docs/FIDELITY.md).
pub const MAX_LINE_LEN: usize = 1024;
