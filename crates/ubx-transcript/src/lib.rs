//! Transcripts: plain-text scripts of what a host sends and exactly what it must get back.
//!
//! The same transcript runs against the in-process module in the test suite and, through
//! `ubxftp script FILE --connect ...`, against ubxftp over TCP or a real module on a serial port —
//! so a difference between the emulator and the hardware shows up as a failing line.
//! The format is documented in docs/TRANSCRIPTS.md:
//!
//! ```text
//! # a comment
//! > ATE0                       send "ATE0" and a CR
//! < ATE0\r\r\nOK\r\n            expect exactly these bytes next (escapes: \r \n \t \\ \xHH \s)
//! >> \x00\xffraw               send bytes as written, no CR added
//! <5000 \r\n+UUFTPCR: 1,1\r\n   expect these bytes within 5000 ms
//! <? \r\n\+UUFTPCD: 13,\d+,"[^"]*"\r\n   expect bytes matching a regex (anchored at the start)
//! quiet 200                    expect no bytes for 200 ms
//! sleep 100                    wait 100 ms (silence around `+++` in data mode)
//! timeout 3000                 default timeout for later expectations
//! >>pattern 42000              send 42000 bytes of 0,1,…,255,0,1,… (a binary file)
//! <md5 42000 a1b2…             the next 42000 bytes, whatever they are, have this MD5
//! <* \+UUFTPCR: 100,\d+ / \d+  any number of lines (`\r\n…\r\n`) matching the regex (FOTA
//!                              progress), then the next step; `<*5000` waits 5 s for each
//! on \r\n+UUFTPCR: 100,0\r\n   if exactly these bytes come next, take them and run the steps up
//!   > AT+CGACT=1,1             to the matching `end`; if something else comes, take nothing and
//!   ...                        skip them (`on5000` waits 5 s for the bytes that decide)
//! end
//! ```
//!
//! The comment block before the first step may hold a header (`# ftp-server: libunftp`,
//! `# model: sara-r5`, ...) and the steps placeholders (`{ftp-ip}`): [`header`] is their one
//! schema and validator, [`Transcript::parse_with`] fills them in. A run that does not go as
//! written ends in a [`Failure`]: the line, as written, and the expected and received bytes in
//! the transcript's own escapes, with the byte where they first differ.

mod failure;
pub mod header;
mod run;

use std::time::Duration;

use regex::bytes::{Regex, RegexBuilder};

pub use failure::{Failure, Miss, first_difference, shown};
pub use header::{Header, Vars};
pub use run::StepDone;
use ubx_at::text::unescape;

/// One step of a transcript.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Expect exactly these bytes next, within the timeout (`None` = the default).
    Expect(Vec<u8>, Option<Duration>),
    /// Expect bytes matching the regex, anchored at the start of what is unread; `pattern` is
    /// the regex as written.
    ExpectMatch {
        re: Regex,
        pattern: String,
        timeout: Option<Duration>,
    },
    /// Expect exactly this many bytes next, with this MD5 (lower-case hex), within the timeout.
    ExpectDigest {
        len: usize,
        md5: String,
        timeout: Option<Duration>,
    },
    /// Expect any number (zero included) of framed lines matching the regex, anchored at the
    /// line's start; waits up to the timeout for each.
    ExpectRepeated(Regex, Option<Duration>),
    /// Expect that nothing arrives for this long.
    Quiet(Duration),
    Sleep(Duration),
    SetTimeout(Duration),
    /// If exactly these bytes come next, take them and go on with the next step; if something
    /// else comes, take nothing and go on at step `skip_to` (the one after the matching `end`).
    /// Waits up to the timeout for the bytes that decide.
    On {
        expected: Vec<u8>,
        timeout: Option<Duration>,
        skip_to: usize,
    },
    /// The end of an `on` block: nothing to do.
    End,
}

/// A parsed transcript: steps with their source line numbers.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub steps: Vec<(usize, Step)>,
    /// Each step's line as written (indentation removed), in the order of `steps`.
    sources: Vec<String>,
}

/// A transcript that could not be parsed, or a run that did not go as written.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("{0}")]
    Failed(Box<Failure>),
}

impl TranscriptError {
    /// The line it names.
    pub fn line(&self) -> usize {
        match self {
            TranscriptError::Syntax { line, .. } => *line,
            TranscriptError::Failed(f) => f.line,
        }
    }

    /// The message with the file in front, as compilers write it: `FILE:LINE: ...`.
    pub fn in_file(&self, file: &str) -> String {
        match self {
            TranscriptError::Syntax { line, message } => format!("{file}:{line}: {message}"),
            TranscriptError::Failed(f) => f.in_file(file),
        }
    }
}

/// The bytes `>>pattern N` sends: 0, 1, …, 255, 0, 1, … (the file u-blox's own FTP test suite
/// stores and retrieves).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

fn millis(text: &str, line: usize) -> Result<Duration, TranscriptError> {
    text.trim()
        .parse()
        .map(Duration::from_millis)
        .map_err(|_| TranscriptError::Syntax {
            line,
            message: format!("not a number of ms: {text:?}"),
        })
}

/// The timeout written right after a directive (`<5000`, `on600000`); `None` when there is none.
fn timeout_after(
    head: &str,
    directive: &str,
    line: usize,
) -> Result<Option<Duration>, TranscriptError> {
    match head.strip_prefix(directive) {
        Some("") | None => Ok(None),
        Some(ms) => millis(ms, line).map(Some),
    }
}

/// A transcript regex: byte-oriented, `.` matching newlines, as written between `prefix` and
/// `suffix` anchors. A syntax error quotes the pattern as written, not the anchored form.
fn regex(pattern: &str, prefix: &str, suffix: &str, line: usize) -> Result<Regex, TranscriptError> {
    let build = |text: &str| {
        RegexBuilder::new(text)
            .unicode(false)
            .dot_matches_new_line(true)
            .build()
    };
    let syntax = |e: regex::Error| TranscriptError::Syntax {
        line,
        message: e.to_string(),
    };
    build(pattern).map_err(syntax)?;
    build(&format!("{prefix}(?:{pattern}){suffix}")).map_err(syntax)
}

/// `<md5 LEN MD5`.
fn digest_step(rest: &str, line: usize) -> Result<Step, TranscriptError> {
    let syntax = |message: String| TranscriptError::Syntax { line, message };
    let (len, md5) = rest
        .trim()
        .split_once(' ')
        .ok_or_else(|| syntax("<md5 wants a length and an MD5".into()))?;
    let len = len
        .parse()
        .map_err(|_| syntax(format!("not a byte count: {len:?}")))?;
    let md5 = md5.trim().to_ascii_lowercase();
    if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(syntax(format!("not an MD5: {md5:?}")));
    }
    Ok(Step::ExpectDigest {
        len,
        md5,
        timeout: None,
    })
}

/// `end`: closes the innermost open `on` block (its step index and line in `open`), which
/// skips to the step after this one.
fn end_step(
    steps: &mut [(usize, Step)],
    open: &mut Vec<(usize, usize)>,
    line: usize,
) -> Result<Step, TranscriptError> {
    let Some((at, _)) = open.pop() else {
        return Err(TranscriptError::Syntax {
            line,
            message: "`end` without an `on`".into(),
        });
    };
    let after = steps.len() + 1;
    if let Some((_, Step::On { skip_to, .. })) = steps.get_mut(at) {
        *skip_to = after;
    }
    Ok(Step::End)
}

/// One step line (indentation removed, placeholders replaced); `next` is the index the step
/// will have, `open` the `on` blocks not yet ended.
fn step(
    raw: &str,
    line: usize,
    steps: &mut [(usize, Step)],
    open: &mut Vec<(usize, usize)>,
) -> Result<Step, TranscriptError> {
    let syntax = |message: String| TranscriptError::Syntax { line, message };
    let (head, rest) = raw.split_once(' ').unwrap_or((raw, ""));
    Ok(match head {
        ">" => {
            let mut bytes = unescape(rest).map_err(syntax)?;
            bytes.push(b'\r');
            Step::Send(bytes)
        }
        ">>" => Step::Send(unescape(rest).map_err(syntax)?),
        ">>pattern" => {
            let len: usize = rest
                .trim()
                .parse()
                .map_err(|_| syntax(format!("not a byte count: {rest:?}")))?;
            Step::Send(pattern(len))
        }
        "<md5" => digest_step(rest, line)?,
        "quiet" => Step::Quiet(millis(rest, line)?),
        "sleep" => Step::Sleep(millis(rest, line)?),
        "timeout" => Step::SetTimeout(millis(rest, line)?),
        "end" => end_step(steps, open, line)?,
        h if h.starts_with("on") && h[2..].bytes().all(|b| b.is_ascii_digit()) => {
            let timeout = timeout_after(h, "on", line)?;
            let expected = unescape(rest).map_err(syntax)?;
            if expected.is_empty() {
                return Err(syntax("`on` wants the bytes it decides on".into()));
            }
            open.push((steps.len(), line));
            Step::On {
                expected,
                timeout,
                skip_to: 0,
            }
        }
        h if h.starts_with("<*") => {
            let timeout = timeout_after(h, "<*", line)?;
            Step::ExpectRepeated(regex(rest, r"\A", r"\z", line)?, timeout)
        }
        h if h.starts_with("<?") => Step::ExpectMatch {
            re: regex(rest, r"\A", "", line)?,
            pattern: rest.to_string(),
            timeout: timeout_after(h, "<?", line)?,
        },
        h if h.starts_with('<') => {
            let timeout = timeout_after(h, "<", line)?;
            Step::Expect(unescape(rest).map_err(syntax)?, timeout)
        }
        _ => return Err(syntax(format!("unknown directive {head:?}"))),
    })
}

impl Transcript {
    /// Parses a transcript; a `{name}` in it is taken literally.
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        Transcript::parse_lines(text, None)
    }

    /// Parses a transcript, replacing each placeholder of its steps by its value in `vars`; a
    /// placeholder without one is refused with its line (docs: [`header`]).
    pub fn parse_with(text: &str, vars: &Vars) -> Result<Transcript, TranscriptError> {
        Transcript::parse_lines(text, Some(vars))
    }

    fn parse_lines(text: &str, vars: Option<&Vars>) -> Result<Transcript, TranscriptError> {
        let mut steps = Vec::new();
        let mut sources = Vec::new();
        // The `on` blocks not yet ended: their step index and line.
        let mut open: Vec<(usize, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            // Steps inside an `on` block may be indented.
            let raw = raw.trim_start();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let text = match vars {
                Some(vars) => header::substitute(raw, vars, line)?,
                None => raw.to_string(),
            };
            let step = step(&text, line, &mut steps, &mut open)?;
            steps.push((line, step));
            sources.push(raw.to_string());
        }
        if let Some((_, line)) = open.pop() {
            return Err(TranscriptError::Syntax {
                line,
                message: "this `on` has no `end`".into(),
            });
        }
        Ok(Transcript { steps, sources })
    }

    /// The line of the step at `index`, as written.
    pub fn source(&self, index: usize) -> &str {
        self.sources.get(index).map_or("", String::as_str)
    }

    /// The send a step answers: for each step that expects bytes, the line (as written) of the
    /// last send before it, by the step's line; a `> ` line without its `> `. A step before any
    /// send answers nothing.
    pub fn commands(&self) -> std::collections::BTreeMap<usize, String> {
        let mut out = std::collections::BTreeMap::new();
        let mut last: Option<String> = None;
        for (i, (line, step)) in self.steps.iter().enumerate() {
            if let Step::Send(_) = step {
                let source = self.source(i);
                last = Some(source.strip_prefix("> ").unwrap_or(source).to_string());
            } else if let Some(command) = &last {
                out.insert(*line, command.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ubx_at::text::escape;

    /// Runs `text` against a peer that answers each send with the next of `answers`.
    async fn run_against(text: &str, answers: &[&[u8]]) -> Result<(), TranscriptError> {
        let transcript = Transcript::parse(text).unwrap();
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        let answers: Vec<Vec<u8>> = answers.iter().map(|a| a.to_vec()).collect();
        let peer = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            for answer in answers {
                if theirs.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                theirs.write_all(&answer).await.unwrap();
            }
            // Keep the line open until the transcript is done.
            let _ = theirs.read(&mut buf).await;
        });
        let result = transcript.run(&mut ours).await;
        drop(ours);
        peer.await.unwrap();
        result
    }

    const RESUMING: &str = "> AT+UFTPC=100,\"fw\"\n\
        < \\r\\nOK\\r\\n\n\
        on \\r\\n+UUFTPCR: 100,0\\r\\n\n\
        \x20 > AT+UFTPC=100,\"fw\",1\n\
        \x20 < \\r\\nOK\\r\\n\n\
        end\n\
        <? \\r\\n\\+UUFTPCR: 100,1,\"[0-9a-f]+\"\\r\\n\n";

    #[tokio::test]
    async fn on_runs_its_block_when_its_bytes_come() {
        run_against(
            RESUMING,
            &[
                b"\r\nOK\r\n\r\n+UUFTPCR: 100,0\r\n",
                b"\r\nOK\r\n\r\n+UUFTPCR: 100,1,\"ab12\"\r\n",
            ],
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn on_skips_its_block_and_takes_nothing_when_other_bytes_come() {
        run_against(RESUMING, &[b"\r\nOK\r\n\r\n+UUFTPCR: 100,1,\"ab12\"\r\n"])
            .await
            .unwrap();
    }

    /// The time a skipped `on` waited is the next step's: a load report must not show the
    /// answer that decided as instant.
    #[tokio::test(start_paused = true)]
    async fn a_skipped_on_hands_its_wait_to_the_next_step() {
        let seen = observed(
            "> GO\non \\r\\nNO\\r\\n\nend\n< \\r\\nYES\\r\\n\n",
            &[(700, b"\r\nYES\r\n")],
        )
        .await;
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, 4);
        assert!(seen[0].1 >= Duration::from_millis(700), "{seen:?}");
    }

    /// Progress lines, then (after a pause) the final line that a skipped `on` looked at: the
    /// pause is the final step's, not the progress step's, as a load report should show it.
    #[tokio::test(start_paused = true)]
    async fn the_line_that_ends_repeated_lines_carries_its_wait_past_a_skipped_on() {
        let seen = observed(
            "> GO\n<* P\\d\non \\r\\nFAIL\\r\\n\nend\n< \\r\\nDONE\\r\\n\n",
            &[
                (100, b"\r\nP1\r\n"),
                (100, b"\r\nP2\r\n"),
                (900, b"\r\nDONE\r\n"),
            ],
        )
        .await;
        let lines: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(lines, [2, 5], "{seen:?}");
        assert!(seen[0].1 < Duration::from_millis(300), "{seen:?}");
        assert!(seen[1].1 >= Duration::from_millis(900), "{seen:?}");
    }

    /// Runs `text` against a peer that, after the first send, writes each of `answers` after its
    /// delay in ms; returns each step's line and wait as observed.
    async fn observed(text: &str, answers: &[(u64, &'static [u8])]) -> Vec<(usize, Duration)> {
        let transcript = Transcript::parse(text).unwrap();
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        let answers = answers.to_vec();
        tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let _ = theirs.read(&mut buf).await;
            for (delay, bytes) in answers {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                theirs.write_all(bytes).await.unwrap();
            }
            let _ = theirs.read(&mut buf).await;
        });
        let mut seen = Vec::new();
        transcript
            .run_observed(&mut ours, &mut |done| seen.push((done.line, done.waited)))
            .await
            .unwrap();
        seen
    }

    #[tokio::test]
    async fn on_times_out_when_nothing_decides() {
        let text = "timeout 50\n> AT\non \\r\\nOK\\r\\n\nend\n";
        let e = run_against(text, &[b"\r\n"]).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: on \\r\\nOK\\r\\n\n  expected: \\r\\nOK\\r\\n\n  received: \\r\\n\n  \
             first difference at byte 2: nothing more came within 50 ms"
        );
    }

    /// A failure names the line as written (placeholders too), and shows the bytes once
    /// escaped, as a `<` line takes them, with the offset where they part.
    #[tokio::test]
    async fn a_mismatch_shows_the_line_as_written_and_the_bytes_to_paste_back() {
        let vars: Vars = [("ftp-ip".to_string(), "127.0.0.1".to_string())].into();
        let text = "# a comment\n> AT+UFTP=0,\"{ftp-ip}\"\n  < \\r\\nOK\\r\\n\n";
        let transcript = Transcript::parse_with(text, &vars).unwrap();
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let n = theirs.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"AT+UFTP=0,\"127.0.0.1\"\r");
            theirs.write_all(b"\r\nERROR\r\n").await.unwrap();
            let _ = theirs.read(&mut buf).await;
        });
        let e = transcript.run(&mut ours).await.unwrap_err();
        assert_eq!(
            e.in_file("t.txt"),
            "t.txt:3: < \\r\\nOK\\r\\n\n  expected: \\r\\nOK\\r\\n\n  \
             received: \\r\\nERROR\\r\\n\n  first difference at byte 2"
        );
        // The step a send answers.
        assert_eq!(
            transcript.commands().get(&3).map(String::as_str),
            Some("AT+UFTP=0,\"{ftp-ip}\"")
        );
    }

    #[tokio::test]
    async fn a_pattern_is_shown_as_written() {
        let text = "timeout 30\n> AT\n<? \\r\\n\\+UUFTPCD: 13,\\d+,\"[^\"]*\"\\r\\n\n";
        let e = run_against(text, &[b"\r\nOK\r\n"]).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: <? \\r\\n\\+UUFTPCD: 13,\\d+,\"[^\"]*\"\\r\\n\n  \
             pattern:  \\r\\n\\+UUFTPCD: 13,\\d+,\"[^\"]*\"\\r\\n\n  \
             received: \\r\\nOK\\r\\n\n  no match within 30 ms"
        );
        // A bad pattern is quoted as written, not in its anchored form.
        let e = Transcript::parse("<? a(b\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: ") && !e.contains("(?"), "{e}");
    }

    #[test]
    fn on_blocks_nest_and_must_end() {
        let t = Transcript::parse("on A\non B\n> X\nend\nend\n> Y\n").unwrap();
        let skips: Vec<usize> = t
            .steps
            .iter()
            .filter_map(|(_, s)| match s {
                Step::On { skip_to, .. } => Some(*skip_to),
                _ => None,
            })
            .collect();
        assert_eq!(skips, [5, 4]);
        for (text, line) in [("on A\n> X\n", 1), ("> X\nend\n", 2), ("on\nend\n", 1)] {
            match Transcript::parse(text) {
                Err(TranscriptError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn escape_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            proptest::prop_assert_eq!(unescape(&escape(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn parser_never_panics(text in "\\PC{0,200}") {
            let _ = Transcript::parse(&text);
        }
    }
}
