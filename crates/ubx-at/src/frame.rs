//! Turning responses, result codes and URCs into bytes.
//!
//! The framing rules, from the SARA-R4 manual §1.1.6 (related-commands.md §3), with `⏎` standing
//! for S3 S4 (CR LF by factory setting):
//!
//! | what | verbose (`ATV1`) | numeric (`ATV0`) |
//! |---|---|---|
//! | information text | `⏎line⏎line⏎` | `line⏎line⏎` |
//! | final result | `⏎OK⏎` | `0<S3>` |
//! | `+CME ERROR` | `⏎+CME ERROR: 50⏎` | `+CME ERROR: 50⏎` |
//! | URC | `⏎+UUFTPCR: 1,1⏎` | `+UUFTPCR: 1,1⏎` |
//!
//! `ATQ1` suppresses result codes (final results and `+CME ERROR`), not information text.

use crate::result::{CmeError, CommandError, FinalResult, Part};
use crate::settings::Settings;

fn eol(s: &Settings, out: &mut Vec<u8>) {
    out.push(s.s3);
    out.push(s.s4);
}

/// Writes the information text of a response.
pub fn info(s: &Settings, parts: &[Part], out: &mut Vec<u8>) {
    let mut open = false; // an info block has been started with its leading S3 S4
    for part in parts {
        match part {
            Part::Info(text) | Part::InfoTight(text) => {
                if s.verbose && !open {
                    eol(s, out);
                    open = true;
                }
                out.extend_from_slice(text);
                if !(s.verbose && matches!(part, Part::InfoTight(_))) {
                    eol(s, out);
                }
            }
            Part::Raw(bytes) => {
                out.extend_from_slice(bytes);
                open = false;
            }
        }
    }
}

/// Writes a final or intermediate result code.
pub fn result(s: &Settings, code: FinalResult, out: &mut Vec<u8>) {
    if s.quiet {
        return;
    }
    if s.verbose {
        eol(s, out);
        out.extend_from_slice(code.verbose().as_bytes());
        eol(s, out);
    } else {
        out.extend_from_slice(code.numeric().to_string().as_bytes());
        out.push(s.s3);
    }
}

/// Writes the result of a failed command per `+CMEE`.
pub fn error(s: &Settings, err: CommandError, out: &mut Vec<u8>) {
    match (err, s.cmee) {
        (CommandError::Syntax, _) | (CommandError::Cme(_), 0) => result(s, FinalResult::Error, out),
        (CommandError::Cme(cme), mode) => cme_error(s, cme, mode, out),
    }
}

fn cme_error(s: &Settings, cme: CmeError, mode: u8, out: &mut Vec<u8>) {
    if s.quiet {
        return;
    }
    let text = if mode == 1 {
        format!("+CME ERROR: {}", cme.code())
    } else {
        format!("+CME ERROR: {}", cme.text())
    };
    if s.verbose {
        eol(s, out);
    }
    out.extend_from_slice(text.as_bytes());
    eol(s, out);
}

/// Writes an unsolicited result code.
pub fn urc(s: &Settings, text: &[u8], out: &mut Vec<u8>) {
    if s.verbose {
        eol(s, out);
    }
    out.extend_from_slice(text);
    eol(s, out);
}
