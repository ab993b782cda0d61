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

use std::fmt::Write as _;
use std::time::Duration;

use regex::bytes::Regex;

use crate::fs::storage::md5_hex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One step of a transcript.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Expect exactly these bytes next, within the timeout (`None` = the default).
    Expect(Vec<u8>, Option<Duration>),
    /// Expect bytes matching the regex, anchored at the start of what is unread.
    ExpectMatch(Regex, Option<Duration>),
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
}

/// A transcript that could not be parsed, or a run that did not go as written.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("line {line}: expected {expected:?}, got {got:?}")]
    Mismatch {
        line: usize,
        expected: String,
        got: String,
    },
    #[error("line {line}: expected {expected:?} within {timeout:?}, got only {got:?}")]
    Timeout {
        line: usize,
        expected: String,
        got: String,
        timeout: Duration,
    },
    #[error("line {line}: expected silence, got {got:?}")]
    NotQuiet { line: usize, got: String },
    #[error("line {line}: connection: {source}")]
    Io { line: usize, source: std::io::Error },
}

/// The bytes `>>pattern N` sends: 0, 1, …, 255, 0, 1, … (the file u-blox's own FTP test suite
/// stores and retrieves).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

/// Writes bytes in the transcript escape syntax.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// Reads the transcript escape syntax.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = bytes.get(i) else {
            return Err("dangling backslash".into());
        };
        i += 1;
        match e {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b's' => out.push(b' '),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = bytes.get(i..i + 2).ok_or("short \\x escape")?;
                let hex = std::str::from_utf8(hex).map_err(|_| "bad \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad \\x escape {hex}"))?);
                i += 2;
            }
            other => return Err(format!("unknown escape \\{}", other as char)),
        }
    }
    Ok(out)
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

impl Transcript {
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        let mut steps = Vec::new();
        // The `on` blocks not yet ended: their step index and line.
        let mut open: Vec<(usize, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let syntax = |message: String| TranscriptError::Syntax { line, message };
            // Steps inside an `on` block may be indented.
            let raw = raw.trim_start();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (head, rest) = raw.split_once(' ').unwrap_or((raw, ""));
            let step = match head {
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
                "<md5" => {
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
                    Step::ExpectDigest {
                        len,
                        md5,
                        timeout: None,
                    }
                }
                "quiet" => Step::Quiet(millis(rest, line)?),
                "sleep" => Step::Sleep(millis(rest, line)?),
                "timeout" => Step::SetTimeout(millis(rest, line)?),
                "end" => {
                    let Some((at, _)) = open.pop() else {
                        return Err(syntax("`end` without an `on`".into()));
                    };
                    let after = steps.len() + 1;
                    if let Some((_, Step::On { skip_to, .. })) = steps.get_mut(at) {
                        *skip_to = after;
                    }
                    Step::End
                }
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
                    let re = Regex::new(&format!(r"\A(?s-u:{rest})\z"))
                        .map_err(|e| syntax(e.to_string()))?;
                    Step::ExpectRepeated(re, timeout)
                }
                h if h.starts_with("<?") => {
                    let timeout = timeout_after(h, "<?", line)?;
                    let re = Regex::new(&format!(r"\A(?s-u:{rest})"))
                        .map_err(|e| syntax(e.to_string()))?;
                    Step::ExpectMatch(re, timeout)
                }
                h if h.starts_with('<') => {
                    let timeout = timeout_after(h, "<", line)?;
                    Step::Expect(unescape(rest).map_err(syntax)?, timeout)
                }
                _ => return Err(syntax(format!("unknown directive {head:?}"))),
            };
            steps.push((line, step));
        }
        if let Some((_, line)) = open.pop() {
            return Err(TranscriptError::Syntax {
                line,
                message: "this `on` has no `end`".into(),
            });
        }
        Ok(Transcript { steps })
    }

    /// Runs the transcript over a connection to a module.
    pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
    ) -> Result<(), TranscriptError> {
        self.run_observed(stream, &mut |_| {}).await
    }

    /// [`run`](Self::run), reporting each expectation met: its line, how long it waited and how
    /// many bytes it took (a load runner's latencies and throughput).
    pub async fn run_observed<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        observe: &mut (dyn FnMut(StepDone) + Send),
    ) -> Result<(), TranscriptError> {
        let mut unread: Vec<u8> = Vec::new();
        let mut default_timeout = Duration::from_millis(2000);
        let mut buf = vec![0u8; 16 * 1024];
        let mut next = 0;
        // When an `on` is skipped, the time it waited for the deciding bytes belongs to the
        // step that takes them.
        let mut carried: Option<tokio::time::Instant> = None;
        while let Some((line, step)) = self.steps.get(next) {
            next += 1;
            let line = *line;
            let io = |source| TranscriptError::Io { line, source };
            // Kept until a step takes bytes: steps that take none (`end`, `timeout`, ...) pass it on.
            let started = carried.unwrap_or_else(tokio::time::Instant::now);
            // When the step's bytes were in, if earlier than the step's end (see `<*`).
            let mut finished: Option<tokio::time::Instant> = None;
            let mut taken = 0usize;
            match step {
                Step::Send(bytes) => {
                    stream.write_all(bytes).await.map_err(io)?;
                    stream.flush().await.map_err(io)?;
                }
                Step::Sleep(d) => tokio::time::sleep(*d).await,
                Step::SetTimeout(d) => default_timeout = *d,
                Step::End => {}
                Step::On {
                    expected,
                    timeout,
                    skip_to,
                } => {
                    let timeout = timeout.unwrap_or(default_timeout);
                    let deadline = tokio::time::Instant::now() + timeout;
                    match compare_next(stream, &mut buf, &mut unread, expected, deadline)
                        .await
                        .map_err(io)?
                    {
                        Next::Is => {
                            unread.drain(..expected.len());
                            taken = expected.len();
                        }
                        Next::Differs => {
                            // Something else came: skip the block, leave the bytes unread.
                            next = *skip_to;
                            carried = Some(started);
                        }
                        Next::NotYet => {
                            return Err(TranscriptError::Timeout {
                                line,
                                expected: format!("{} or anything else", escape(expected)),
                                got: escape(&unread),
                                timeout,
                            });
                        }
                    }
                }
                Step::Quiet(d) => {
                    if unread.is_empty() {
                        match tokio::time::timeout(*d, stream.read(&mut buf)).await {
                            Err(_) => continue,
                            Ok(Ok(n)) => unread.extend_from_slice(&buf[..n]),
                            Ok(Err(e)) => return Err(io(e)),
                        }
                    }
                    if !unread.is_empty() {
                        return Err(TranscriptError::NotQuiet {
                            line,
                            got: escape(&unread),
                        });
                    }
                }
                Step::Expect(expected, timeout) => {
                    let timeout = timeout.unwrap_or(default_timeout);
                    let deadline = tokio::time::Instant::now() + timeout;
                    match compare_next(stream, &mut buf, &mut unread, expected, deadline)
                        .await
                        .map_err(io)?
                    {
                        Next::Is => {
                            unread.drain(..expected.len());
                            taken = expected.len();
                        }
                        Next::Differs => {
                            return Err(TranscriptError::Mismatch {
                                line,
                                expected: escape(expected),
                                got: escape(&unread),
                            });
                        }
                        Next::NotYet => {
                            return Err(TranscriptError::Timeout {
                                line,
                                expected: escape(expected),
                                got: escape(&unread),
                                timeout,
                            });
                        }
                    }
                }
                Step::ExpectDigest { len, md5, timeout } => {
                    let timeout = timeout.unwrap_or(default_timeout);
                    let deadline = tokio::time::Instant::now() + timeout;
                    while unread.len() < *len {
                        if !read_more(stream, &mut buf, &mut unread, deadline)
                            .await
                            .map_err(io)?
                        {
                            return Err(TranscriptError::Timeout {
                                line,
                                expected: format!("{len} bytes with MD5 {md5}"),
                                got: format!("{} bytes", unread.len()),
                                timeout,
                            });
                        }
                    }
                    let got = md5_hex(&unread[..*len]);
                    if got != *md5 {
                        return Err(TranscriptError::Mismatch {
                            line,
                            expected: format!("{len} bytes with MD5 {md5}"),
                            got: format!("{len} bytes with MD5 {got}"),
                        });
                    }
                    unread.drain(..*len);
                    taken = *len;
                }
                Step::ExpectMatch(re, timeout) => {
                    let timeout = timeout.unwrap_or(default_timeout);
                    let deadline = tokio::time::Instant::now() + timeout;
                    loop {
                        if let Some(end) = re.find(&unread).map(|m| m.end()) {
                            unread.drain(..end);
                            taken = end;
                            break;
                        }
                        if !read_more(stream, &mut buf, &mut unread, deadline)
                            .await
                            .map_err(io)?
                        {
                            return Err(TranscriptError::Timeout {
                                line,
                                expected: re.as_str().to_string(),
                                got: escape(&unread),
                                timeout,
                            });
                        }
                    }
                }
                Step::ExpectRepeated(re, timeout) => {
                    let timeout = timeout.unwrap_or(default_timeout);
                    let mut last_line = started;
                    'lines: loop {
                        // A whole framed line: \r\n <text> \r\n.
                        let deadline = tokio::time::Instant::now() + timeout;
                        let end = loop {
                            if unread.len() >= 2 && !unread.starts_with(b"\r\n") {
                                break 'lines;
                            }
                            if let Some(p) = unread
                                .get(2..)
                                .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
                            {
                                break p + 2;
                            }
                            if !read_more(stream, &mut buf, &mut unread, deadline)
                                .await
                                .map_err(io)?
                            {
                                // Nothing more within the timeout: the lines are over.
                                break 'lines;
                            }
                        };
                        if !re.is_match(&unread[2..end]) {
                            // The line that ended the run is the next step's: so is the time
                            // spent waiting for it.
                            carried = Some(last_line);
                            finished = Some(last_line);
                            break;
                        }
                        unread.drain(..end + 2);
                        taken += end + 2;
                        last_line = tokio::time::Instant::now();
                    }
                }
            }
            if taken > 0 {
                if finished.is_none() {
                    carried = None;
                }
                observe(StepDone {
                    line,
                    waited: finished.map_or_else(|| started.elapsed(), |at| at - started),
                    bytes: taken,
                });
            }
        }
        Ok(())
    }
}

/// Reads what arrives before `deadline` into `unread`; `false` when nothing did (or the other
/// side closed).
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    unread: &mut Vec<u8>,
    deadline: tokio::time::Instant,
) -> std::io::Result<bool> {
    match tokio::time::timeout_at(deadline, stream.read(buf)).await {
        Ok(Ok(0)) | Err(_) => Ok(false),
        Ok(Ok(n)) => {
            unread.extend_from_slice(&buf[..n]);
            Ok(true)
        }
        Ok(Err(e)) => Err(e),
    }
}

/// How the next bytes compare with what a step expects.
enum Next {
    /// They are exactly those bytes (still unread).
    Is,
    /// They differ, as soon as one byte does.
    Differs,
    /// Too few came before the deadline to tell.
    NotYet,
}

/// Reads until the next bytes are `expected`, or differ from it, or the deadline passes.
async fn compare_next<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    unread: &mut Vec<u8>,
    expected: &[u8],
    deadline: tokio::time::Instant,
) -> std::io::Result<Next> {
    loop {
        let n = unread.len().min(expected.len());
        if unread[..n] != expected[..n] {
            return Ok(Next::Differs);
        }
        if n == expected.len() {
            return Ok(Next::Is);
        }
        if !read_more(stream, buf, unread, deadline).await? {
            return Ok(Next::NotYet);
        }
    }
}

/// An expectation met during [`Transcript::run_observed`].
#[derive(Debug, Clone, Copy)]
pub struct StepDone {
    /// The transcript line of the step.
    pub line: usize,
    /// How long the step waited for its bytes.
    pub waited: Duration,
    /// Bytes it took.
    pub bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        match run_against(text, &[b"\r\n"]).await {
            Err(TranscriptError::Timeout { line: 3, got, .. }) => assert_eq!(got, "\\r\\n"),
            other => panic!("{other:?}"),
        }
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
