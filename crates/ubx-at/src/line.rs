//! Assembling command lines from a byte stream.
//!
//! V.250 has the module hunt for the `AT` prefix (either case), ignoring whatever comes before
//! it, then collect characters up to the S3 terminator (CR by factory setting). That rule is what
//! lets a host recover from any garbage: whatever it sent, a following `AT<CR>` is a clean line.
//!
//! Details real hosts rely on (shared/spec/host-clients.md):
//! - hosts end lines with CR or CR LF; the LF that follows a CR terminator is dropped rather than
//!   starting anything (the terminal applies that rule, because the byte after a terminator may
//!   also be the first byte of a payload);
//! - the S5 character (backspace) deletes the last character, for people typing at a console;
//! - a line longer than [`MAX_LINE_LEN`](crate::MAX_LINE_LEN) bytes including the terminator is
//!   discarded whole and answered with `ERROR`.

use crate::MAX_LINE_LEN;
use crate::settings::Settings;

/// What one byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// A complete line; the bytes after the `AT` prefix, terminator removed.
    Line(Vec<u8>),
    /// A line that exceeded the maximum length; its content was discarded.
    Overlong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for `A`.
    Hunting,
    /// Saw `A`, waiting for `T`.
    SawA,
    /// Inside a line, after `AT`.
    InLine,
    /// Inside a line that is already too long.
    Discarding,
}

/// Collects bytes into command lines. Holds no settings of its own: the terminator and editing
/// characters are read from the terminal's [`Settings`] on every byte, so `ATS3=` takes effect
/// on the very next line.
#[derive(Debug)]
pub struct LineAssembler {
    state: State,
    /// The line after `AT`.
    body: Vec<u8>,
}

impl Default for LineAssembler {
    fn default() -> Self {
        LineAssembler {
            state: State::Hunting,
            body: Vec::new(),
        }
    }
}

impl LineAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether part of a line has been received.
    pub fn in_line(&self) -> bool {
        matches!(self.state, State::InLine | State::Discarding)
    }

    /// Whether a line may have begun: its `A` has arrived (and, with echo on, been echoed).
    pub fn started(&self) -> bool {
        self.state != State::Hunting
    }

    /// Consumes one byte; returns a line when `b` terminated one.
    pub fn push(&mut self, b: u8, settings: &Settings) -> Option<Assembled> {
        match self.state {
            State::Hunting | State::SawA => {
                self.state = match (self.state, b.to_ascii_uppercase()) {
                    (_, b'A') => State::SawA,
                    (State::SawA, b'T') => {
                        self.body.clear();
                        State::InLine
                    }
                    _ => State::Hunting,
                };
                None
            }
            State::InLine | State::Discarding if b == settings.s3 => {
                let done = match self.state {
                    State::InLine => Assembled::Line(std::mem::take(&mut self.body)),
                    _ => Assembled::Overlong,
                };
                self.state = State::Hunting;
                Some(done)
            }
            State::InLine if b == settings.s5 => {
                if self.body.pop().is_none() {
                    self.state = State::SawA;
                }
                None
            }
            State::InLine => {
                // "AT" + body + terminator must fit in MAX_LINE_LEN.
                if 2 + self.body.len() + 1 >= MAX_LINE_LEN {
                    self.body = Vec::new();
                    self.state = State::Discarding;
                } else {
                    self.body.push(b);
                }
                None
            }
            State::Discarding => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(bytes: &[u8]) -> Vec<Assembled> {
        let s = Settings::factory();
        let mut a = LineAssembler::new();
        bytes.iter().filter_map(|&b| a.push(b, &s)).collect()
    }

    #[test]
    fn finds_lines_after_garbage() {
        assert_eq!(
            feed(b"\x00\xffxxAAT+CGMI\r"),
            vec![Assembled::Line(b"+CGMI".to_vec())]
        );
        assert_eq!(
            feed(b"at\rAt e0\r"),
            vec![Assembled::Line(vec![]), Assembled::Line(b" e0".to_vec())]
        );
        assert_eq!(feed(b"garbage\r"), vec![]);
    }

    #[test]
    fn line_length_limit_counts_prefix_and_terminator() {
        let mut ok = b"AT".to_vec();
        ok.resize(MAX_LINE_LEN - 1, b'1');
        ok.push(b'\r');
        assert!(matches!(feed(&ok)[..], [Assembled::Line(_)]));
        let mut long = b"AT".to_vec();
        long.resize(MAX_LINE_LEN, b'1');
        long.push(b'\r');
        assert_eq!(feed(&long), vec![Assembled::Overlong]);
    }

    #[test]
    fn backspace_edits() {
        assert_eq!(feed(b"ATE1\x080\r"), vec![Assembled::Line(b"E0".to_vec())]);
    }
}
