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

use std::time::Duration;

use regex::bytes::Regex;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use ubx_at::text::{escape, unescape};

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
                "<md5" => digest_step(rest, line)?,
                "quiet" => Step::Quiet(millis(rest, line)?),
                "sleep" => Step::Sleep(millis(rest, line)?),
                "timeout" => Step::SetTimeout(millis(rest, line)?),
                "end" => end_step(&mut steps, &mut open, line)?,
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
        let mut run = Run::new(stream);
        let mut next = 0;
        while let Some((line, step)) = self.steps.get(next) {
            next += 1;
            let line = *line;
            // Kept until a step takes bytes: steps that take none (`end`, `timeout`, ...) pass it on.
            let started = run.carried.unwrap_or_else(Instant::now);
            let took = run.step(line, step, started).await?;
            if let Some(skip_to) = took.skip_to {
                next = skip_to;
            }
            if took.bytes > 0 {
                if took.finished.is_none() {
                    run.carried = None;
                }
                observe(StepDone {
                    line,
                    waited: took
                        .finished
                        .map_or_else(|| started.elapsed(), |at| at - started),
                    bytes: took.bytes,
                });
            }
        }
        Ok(())
    }
}

/// A transcript being run: the connection, what came that no step has taken yet, the default
/// timeout, and the wait one step hands on to the next.
struct Run<'s, S> {
    stream: &'s mut S,
    buf: Vec<u8>,
    unread: Vec<u8>,
    default_timeout: Duration,
    /// When an `on` is skipped, the time it waited for the deciding bytes belongs to the
    /// step that takes them.
    carried: Option<Instant>,
}

/// What one step did.
#[derive(Default)]
struct Took {
    /// Bytes it took.
    bytes: usize,
    /// When the step's bytes were in, if earlier than the step's end (see `<*`).
    finished: Option<Instant>,
    /// The step to go on with, if not the next one (a skipped `on`).
    skip_to: Option<usize>,
}

impl Took {
    fn bytes(bytes: usize) -> Took {
        Took {
            bytes,
            ..Took::default()
        }
    }
}

/// The error for a connection failing during the step on `line`.
fn io_error(line: usize) -> impl Fn(std::io::Error) -> TranscriptError {
    move |source| TranscriptError::Io { line, source }
}

impl<'s, S: AsyncRead + AsyncWrite + Unpin> Run<'s, S> {
    fn new(stream: &'s mut S) -> Self {
        Run {
            stream,
            buf: vec![0u8; 16 * 1024],
            unread: Vec::new(),
            default_timeout: Duration::from_millis(2000),
            carried: None,
        }
    }

    /// A step's timeout (`None` = the default) and the deadline it sets from now.
    fn deadline(&self, timeout: Option<Duration>) -> (Duration, Instant) {
        let timeout = timeout.unwrap_or(self.default_timeout);
        (timeout, Instant::now() + timeout)
    }

    /// Runs one step; `started` is when its wait began (earlier than now if handed on).
    async fn step(
        &mut self,
        line: usize,
        step: &Step,
        started: Instant,
    ) -> Result<Took, TranscriptError> {
        match step {
            Step::Send(bytes) => self.send(line, bytes).await.map(|()| Took::default()),
            Step::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(Took::default())
            }
            Step::SetTimeout(d) => {
                self.default_timeout = *d;
                Ok(Took::default())
            }
            Step::End => Ok(Took::default()),
            Step::On {
                expected,
                timeout,
                skip_to,
            } => self.on(line, expected, *timeout, *skip_to, started).await,
            Step::Quiet(d) => self.quiet(line, *d).await.map(|()| Took::default()),
            Step::Expect(expected, timeout) => {
                self.expect(line, expected, *timeout).await.map(Took::bytes)
            }
            Step::ExpectDigest { len, md5, timeout } => self
                .expect_digest(line, *len, md5, *timeout)
                .await
                .map(Took::bytes),
            Step::ExpectMatch(re, timeout) => {
                self.expect_match(line, re, *timeout).await.map(Took::bytes)
            }
            Step::ExpectRepeated(re, timeout) => {
                self.expect_repeated(line, re, *timeout, started).await
            }
        }
    }

    /// `>`, `>>`, `>>pattern`.
    async fn send(&mut self, line: usize, bytes: &[u8]) -> Result<(), TranscriptError> {
        self.stream.write_all(bytes).await.map_err(io_error(line))?;
        self.stream.flush().await.map_err(io_error(line))
    }

    /// `on`: takes the expected bytes if they come next; if others come, takes nothing, skips
    /// the block to `skip_to` and hands its wait on to the step that takes them.
    async fn on(
        &mut self,
        line: usize,
        expected: &[u8],
        timeout: Option<Duration>,
        skip_to: usize,
        started: Instant,
    ) -> Result<Took, TranscriptError> {
        let (timeout, deadline) = self.deadline(timeout);
        match self
            .compare_next(expected, deadline)
            .await
            .map_err(io_error(line))?
        {
            Next::Is => {
                self.unread.drain(..expected.len());
                Ok(Took::bytes(expected.len()))
            }
            Next::Differs => {
                // Something else came: skip the block, leave the bytes unread.
                self.carried = Some(started);
                Ok(Took {
                    skip_to: Some(skip_to),
                    ..Took::default()
                })
            }
            Next::NotYet => Err(TranscriptError::Timeout {
                line,
                expected: format!("{} or anything else", escape(expected)),
                got: escape(&self.unread),
                timeout,
            }),
        }
    }

    /// `quiet`: nothing may arrive for `d`.
    async fn quiet(&mut self, line: usize, d: Duration) -> Result<(), TranscriptError> {
        if self.unread.is_empty() {
            match tokio::time::timeout(d, self.stream.read(&mut self.buf)).await {
                Err(_) => return Ok(()),
                Ok(Ok(n)) => self.unread.extend_from_slice(&self.buf[..n]),
                Ok(Err(e)) => return Err(io_error(line)(e)),
            }
        }
        if !self.unread.is_empty() {
            return Err(TranscriptError::NotQuiet {
                line,
                got: escape(&self.unread),
            });
        }
        Ok(())
    }

    /// `<`: exactly these bytes next; returns how many it took.
    async fn expect(
        &mut self,
        line: usize,
        expected: &[u8],
        timeout: Option<Duration>,
    ) -> Result<usize, TranscriptError> {
        let (timeout, deadline) = self.deadline(timeout);
        match self
            .compare_next(expected, deadline)
            .await
            .map_err(io_error(line))?
        {
            Next::Is => {
                self.unread.drain(..expected.len());
                Ok(expected.len())
            }
            Next::Differs => Err(TranscriptError::Mismatch {
                line,
                expected: escape(expected),
                got: escape(&self.unread),
            }),
            Next::NotYet => Err(TranscriptError::Timeout {
                line,
                expected: escape(expected),
                got: escape(&self.unread),
                timeout,
            }),
        }
    }

    /// `<md5`: the next `len` bytes, with this MD5; returns how many it took.
    async fn expect_digest(
        &mut self,
        line: usize,
        len: usize,
        md5: &str,
        timeout: Option<Duration>,
    ) -> Result<usize, TranscriptError> {
        let (timeout, deadline) = self.deadline(timeout);
        while self.unread.len() < len {
            if !self.read_more(deadline).await.map_err(io_error(line))? {
                return Err(TranscriptError::Timeout {
                    line,
                    expected: format!("{len} bytes with MD5 {md5}"),
                    got: format!("{} bytes", self.unread.len()),
                    timeout,
                });
            }
        }
        let got = md5_hex(&self.unread[..len]);
        if got != md5 {
            return Err(TranscriptError::Mismatch {
                line,
                expected: format!("{len} bytes with MD5 {md5}"),
                got: format!("{len} bytes with MD5 {got}"),
            });
        }
        self.unread.drain(..len);
        Ok(len)
    }

    /// `<?`: bytes matching the regex; returns how many it took.
    async fn expect_match(
        &mut self,
        line: usize,
        re: &Regex,
        timeout: Option<Duration>,
    ) -> Result<usize, TranscriptError> {
        let (timeout, deadline) = self.deadline(timeout);
        loop {
            if let Some(end) = re.find(&self.unread).map(|m| m.end()) {
                self.unread.drain(..end);
                return Ok(end);
            }
            if !self.read_more(deadline).await.map_err(io_error(line))? {
                return Err(TranscriptError::Timeout {
                    line,
                    expected: re.as_str().to_string(),
                    got: escape(&self.unread),
                    timeout,
                });
            }
        }
    }

    /// `<*`: framed lines matching the regex, as many as come, each within the timeout.
    async fn expect_repeated(
        &mut self,
        line: usize,
        re: &Regex,
        timeout: Option<Duration>,
        started: Instant,
    ) -> Result<Took, TranscriptError> {
        let timeout = timeout.unwrap_or(self.default_timeout);
        let mut took = Took::default();
        let mut last_line = started;
        while let Some(end) = self
            .framed_line(Instant::now() + timeout)
            .await
            .map_err(io_error(line))?
        {
            if !re.is_match(&self.unread[2..end]) {
                // The line that ended the run is the next step's: so is the time
                // spent waiting for it.
                self.carried = Some(last_line);
                took.finished = Some(last_line);
                break;
            }
            self.unread.drain(..end + 2);
            took.bytes += end + 2;
            last_line = Instant::now();
        }
        Ok(took)
    }

    /// Reads until the unread bytes start with a whole framed line, `\r\n <text> \r\n`, and
    /// returns where its text ends; `None` when they start with something else or nothing more
    /// comes before `deadline` (the lines are over).
    async fn framed_line(&mut self, deadline: Instant) -> std::io::Result<Option<usize>> {
        loop {
            if self.unread.len() >= 2 && !self.unread.starts_with(b"\r\n") {
                return Ok(None);
            }
            if let Some(p) = self
                .unread
                .get(2..)
                .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
            {
                return Ok(Some(p + 2));
            }
            if !self.read_more(deadline).await? {
                return Ok(None);
            }
        }
    }

    /// Reads what arrives before `deadline` into `unread`; `false` when nothing did (or the
    /// other side closed).
    async fn read_more(&mut self, deadline: Instant) -> std::io::Result<bool> {
        match tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await {
            Ok(Ok(0)) | Err(_) => Ok(false),
            Ok(Ok(n)) => {
                self.unread.extend_from_slice(&self.buf[..n]);
                Ok(true)
            }
            Ok(Err(e)) => Err(e),
        }
    }

    /// Reads until the next bytes are `expected`, or differ from it, or the deadline passes.
    async fn compare_next(&mut self, expected: &[u8], deadline: Instant) -> std::io::Result<Next> {
        loop {
            let n = self.unread.len().min(expected.len());
            if self.unread[..n] != expected[..n] {
                return Ok(Next::Differs);
            }
            if n == expected.len() {
                return Ok(Next::Is);
            }
            if !self.read_more(deadline).await? {
                return Ok(Next::NotYet);
            }
        }
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

/// The MD5 of `data` in lowercase hex, as `+UUFTPCR: 100` and `+USECMNG` print it.
fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
