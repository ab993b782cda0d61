//! Running a transcript over a byte stream: each step in turn, each expectation against the
//! bytes that came and were not yet taken.

use std::time::Duration;

use md5::{Digest, Md5};
use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::failure::{Failure, Miss};
use crate::{Step, Transcript, TranscriptError};

impl Transcript {
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
            let index = next;
            next += 1;
            let line = *line;
            // Kept until a step takes bytes: steps that take none (`end`, `timeout`, ...) pass it on.
            let started = run.carried.unwrap_or_else(Instant::now);
            let took = run.step(step, started).await.map_err(|miss| {
                TranscriptError::Failed(Box::new(Failure {
                    line,
                    source: self.source(index).to_string(),
                    miss,
                }))
            })?;
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
    async fn step(&mut self, step: &Step, started: Instant) -> Result<Took, Miss> {
        match step {
            Step::Send(bytes) => self.send(bytes).await.map(|()| Took::default()),
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
            } => self.on(expected, *timeout, *skip_to, started).await,
            Step::Quiet(d) => self.quiet(*d).await.map(|()| Took::default()),
            Step::Expect(expected, timeout) => {
                self.expect(expected, *timeout).await.map(Took::bytes)
            }
            Step::ExpectDigest { len, md5, timeout } => self
                .expect_digest(*len, md5, *timeout)
                .await
                .map(Took::bytes),
            Step::ExpectMatch {
                re,
                pattern,
                timeout,
            } => self
                .expect_match(re, pattern, *timeout)
                .await
                .map(Took::bytes),
            Step::ExpectRepeated(re, timeout) => self.expect_repeated(re, *timeout, started).await,
        }
    }

    /// `>`, `>>`, `>>pattern`.
    async fn send(&mut self, bytes: &[u8]) -> Result<(), Miss> {
        self.stream.write_all(bytes).await.map_err(Miss::Io)?;
        self.stream.flush().await.map_err(Miss::Io)
    }

    /// `on`: takes the expected bytes if they come next; if others come, takes nothing, skips
    /// the block to `skip_to` and hands its wait on to the step that takes them.
    async fn on(
        &mut self,
        expected: &[u8],
        timeout: Option<Duration>,
        skip_to: usize,
        started: Instant,
    ) -> Result<Took, Miss> {
        let (timeout, deadline) = self.deadline(timeout);
        match self
            .compare_next(expected, deadline)
            .await
            .map_err(Miss::Io)?
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
            Next::NotYet => Err(Miss::TooFew {
                expected: expected.to_vec(),
                received: self.unread.clone(),
                timeout,
            }),
        }
    }

    /// `quiet`: nothing may arrive for `d`.
    async fn quiet(&mut self, d: Duration) -> Result<(), Miss> {
        if self.unread.is_empty() {
            match tokio::time::timeout(d, self.stream.read(&mut self.buf)).await {
                Err(_) => return Ok(()),
                Ok(Ok(n)) => self.unread.extend_from_slice(&self.buf[..n]),
                Ok(Err(e)) => return Err(Miss::Io(e)),
            }
        }
        if !self.unread.is_empty() {
            return Err(Miss::NotQuiet {
                quiet: d,
                received: self.unread.clone(),
            });
        }
        Ok(())
    }

    /// `<`: exactly these bytes next; returns how many it took.
    async fn expect(&mut self, expected: &[u8], timeout: Option<Duration>) -> Result<usize, Miss> {
        let (timeout, deadline) = self.deadline(timeout);
        match self
            .compare_next(expected, deadline)
            .await
            .map_err(Miss::Io)?
        {
            Next::Is => {
                self.unread.drain(..expected.len());
                Ok(expected.len())
            }
            Next::Differs => Err(Miss::Differs {
                expected: expected.to_vec(),
                received: self.unread.clone(),
            }),
            Next::NotYet => Err(Miss::TooFew {
                expected: expected.to_vec(),
                received: self.unread.clone(),
                timeout,
            }),
        }
    }

    /// `<md5`: the next `len` bytes, with this MD5; returns how many it took.
    async fn expect_digest(
        &mut self,
        len: usize,
        md5: &str,
        timeout: Option<Duration>,
    ) -> Result<usize, Miss> {
        let (timeout, deadline) = self.deadline(timeout);
        while self.unread.len() < len {
            if !self.read_more(deadline).await.map_err(Miss::Io)? {
                return Err(Miss::ShortDigest {
                    len,
                    md5: md5.to_string(),
                    received: self.unread.len(),
                    timeout,
                });
            }
        }
        let got = md5_hex(&self.unread[..len]);
        if got != md5 {
            return Err(Miss::WrongDigest {
                len,
                md5: md5.to_string(),
                received: got,
            });
        }
        self.unread.drain(..len);
        Ok(len)
    }

    /// `<?`: bytes matching the regex; returns how many it took.
    async fn expect_match(
        &mut self,
        re: &Regex,
        pattern: &str,
        timeout: Option<Duration>,
    ) -> Result<usize, Miss> {
        let (timeout, deadline) = self.deadline(timeout);
        loop {
            if let Some(end) = re.find(&self.unread).map(|m| m.end()) {
                self.unread.drain(..end);
                return Ok(end);
            }
            if !self.read_more(deadline).await.map_err(Miss::Io)? {
                return Err(Miss::NoMatch {
                    pattern: pattern.to_string(),
                    received: self.unread.clone(),
                    timeout,
                });
            }
        }
    }

    /// `<*`: framed lines matching the regex, as many as come, each within the timeout.
    async fn expect_repeated(
        &mut self,
        re: &Regex,
        timeout: Option<Duration>,
        started: Instant,
    ) -> Result<Took, Miss> {
        let timeout = timeout.unwrap_or(self.default_timeout);
        let mut took = Took::default();
        let mut last_line = started;
        while let Some(end) = self
            .framed_line(Instant::now() + timeout)
            .await
            .map_err(Miss::Io)?
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
