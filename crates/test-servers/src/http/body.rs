//! Response bodies of the HTTP server: nothing, bytes in memory, or the byte pattern
//! (`0, 1, 2, …, 255, 0, 1, …`) made on the fly from a static table, optionally paced to a
//! rate and optionally cut (the connection closed) after part of it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::flush::FlushSignal;

/// The largest frame (and chunk) a pattern body hands to hyper.
pub(crate) const MAX_FRAME: usize = 64 * 1024;

/// The chunk sizes a chunked pattern body cycles through unless told a fixed size: tiny ones,
/// and sizes of one to five hex digits.
pub(crate) const CHUNK_CYCLE: [usize; 8] = [1, 2, 3, 10, 100, 1000, 4096, MAX_FRAME];

const fn pattern_table() -> [u8; MAX_FRAME + 256] {
    let mut table = [0u8; MAX_FRAME + 256];
    let mut i = 0;
    while i < table.len() {
        table[i] = (i % 256) as u8;
        i += 1;
    }
    table
}

/// The pattern from offset 0, long enough that any offset modulo 256 has a whole frame after it.
static PATTERN: [u8; MAX_FRAME + 256] = pattern_table();

/// `len` (at most [`MAX_FRAME`]) pattern bytes from `offset` on, without copying.
fn pattern_frame(offset: u64, len: usize) -> Bytes {
    let start = (offset % 256) as usize;
    Bytes::from_static(&PATTERN[start..start + len.min(MAX_FRAME)])
}

/// The pattern bytes `offset .. offset + len`: byte `i` of a pattern body is `i % 256`.
pub fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (offset.wrapping_add(i) % 256) as u8)
        .collect()
}

/// A response body.
#[derive(Debug)]
pub(crate) enum ReplyBody {
    /// No bytes.
    Empty,
    /// These bytes, in one frame (`None` once sent).
    Full(Option<Bytes>),
    /// Pattern bytes made on the fly.
    Pattern(PatternBody),
}

impl ReplyBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        if data.is_empty() {
            ReplyBody::Empty
        } else {
            ReplyBody::Full(Some(data))
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ReplyBody::Empty => Poll::Ready(None),
            ReplyBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ReplyBody::Pattern(pattern) => pattern.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReplyBody::Empty => true,
            ReplyBody::Full(data) => data.is_none(),
            ReplyBody::Pattern(pattern) => pattern.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Empty => SizeHint::with_exact(0),
            ReplyBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ReplyBody::Pattern(pattern) => pattern.size_hint(),
        }
    }
}

/// Pattern bytes `0 .. stop`, in frames of [`Frames`] sizes, maybe paced, maybe cut after
/// `stop` bytes of a longer declared length.
#[derive(Debug)]
pub(crate) struct PatternBody {
    sent: u64,
    stop: u64,
    /// The length announced in `Content-Length` (the exact size hint), `None` for chunked.
    declared: Option<u64>,
    frames: Frames,
    pace: Option<Pace>,
    cut: Option<Cut>,
}

impl PatternBody {
    /// `len` bytes with a known length (`Content-Length`), in frames of [`MAX_FRAME`].
    pub(crate) fn sized(len: u64) -> Self {
        PatternBody {
            sent: 0,
            stop: len,
            declared: Some(len),
            frames: Frames::Fixed(MAX_FRAME),
            pace: None,
            cut: None,
        }
    }

    /// `len` bytes of unknown length (chunked): each frame becomes one chunk, of `chunk`
    /// bytes (1..=[`MAX_FRAME`]) or, with `None`, of the sizes in [`CHUNK_CYCLE`] in turn.
    pub(crate) fn chunked(len: u64, chunk: Option<usize>) -> Self {
        let frames = match chunk {
            Some(size) => Frames::Fixed(size.clamp(1, MAX_FRAME)),
            None => Frames::Cycle(0),
        };
        PatternBody {
            declared: None,
            frames,
            ..Self::sized(len)
        }
    }

    /// Announces `len` bytes but sends only the first `len / 2`, then, once hyper has flushed
    /// them to the transport, fails, which makes hyper close the connection.
    pub(crate) fn truncated(len: u64, signal: Arc<FlushSignal>) -> Self {
        PatternBody {
            stop: len / 2,
            cut: Some(Cut {
                signal,
                armed_at: None,
            }),
            ..Self::sized(len)
        }
    }

    /// Sends at `rate` bytes per second (at least 1): each frame (a tenth of a second's worth,
    /// 1..=[`MAX_FRAME`] bytes) goes out once the time for its last byte has come, counted
    /// from the first poll.
    pub(crate) fn paced(self, rate: u64) -> Self {
        let rate = rate.max(1);
        PatternBody {
            pace: Some(Pace {
                rate,
                step: usize::try_from((rate / 10).clamp(1, MAX_FRAME as u64)).unwrap_or(MAX_FRAME),
                start: None,
                sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            }),
            ..self
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        if self.sent >= self.stop {
            let Some(cut) = &mut self.cut else {
                return Poll::Ready(None);
            };
            ready!(cut.poll_flushed(cx));
            self.cut = None;
            return Poll::Ready(Some(Err(io::Error::other("response truncated on purpose"))));
        }
        let remaining = usize::try_from(self.stop - self.sent).unwrap_or(usize::MAX);
        let mut len = self.frames.size().min(remaining);
        if let Some(pace) = &mut self.pace {
            len = ready!(pace.poll_allow(cx, self.sent, len));
        }
        let data = pattern_frame(self.sent, len);
        self.sent += data.len() as u64;
        self.frames.advance();
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.stop && self.cut.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(len) => SizeHint::with_exact(len.saturating_sub(self.sent)),
            None => {
                let mut hint = SizeHint::new();
                hint.set_upper(self.stop - self.sent);
                hint
            }
        }
    }
}

/// Frame sizes of a pattern body.
#[derive(Debug)]
enum Frames {
    Fixed(usize),
    /// Index into [`CHUNK_CYCLE`].
    Cycle(usize),
}

impl Frames {
    fn size(&self) -> usize {
        match *self {
            Frames::Fixed(size) => size,
            Frames::Cycle(i) => CHUNK_CYCLE[i % CHUNK_CYCLE.len()],
        }
    }

    fn advance(&mut self) {
        if let Frames::Cycle(i) = self {
            *i = (*i + 1) % CHUNK_CYCLE.len();
        }
    }
}

/// Rate limiting of a pattern body.
#[derive(Debug)]
struct Pace {
    rate: u64,
    /// Largest frame while paced.
    step: usize,
    start: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl Pace {
    /// Waits until the next frame (at most `len` bytes, after `sent`) is due; returns its length.
    fn poll_allow(&mut self, cx: &mut Context<'_>, sent: u64, len: usize) -> Poll<usize> {
        let len = len.min(self.step);
        let start = *self.start.get_or_insert_with(Instant::now);
        let nanos = u128::from(sent + len as u64) * 1_000_000_000 / u128::from(self.rate);
        let after = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let due = start
            .checked_add(after)
            .unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600));
        if Instant::now() < due {
            self.sleep.as_mut().reset(due);
            ready!(self.sleep.as_mut().poll(cx));
        }
        Poll::Ready(len)
    }
}

/// The end of a truncated body: wait for a transport flush after the last frame, then fail.
#[derive(Debug)]
struct Cut {
    signal: Arc<FlushSignal>,
    /// The flush count when the body ran out of bytes (set on the first poll after that).
    armed_at: Option<u64>,
}

impl Cut {
    /// Ready once the transport has been flushed after the body's last frame was handed over.
    ///
    /// hyper buffers a frame as soon as the body yields it and polls the body again before it
    /// flushes; the first poll here (which arms) therefore comes after the last frame is in
    /// hyper's buffer, and hyper flushes the transport only once that buffer is empty.
    fn poll_flushed(&mut self, cx: &Context<'_>) -> Poll<()> {
        let count = self.signal.count_and_wait(cx);
        match self.armed_at {
            None => {
                self.armed_at = Some(count);
                Poll::Pending
            }
            Some(at) if count > at => Poll::Ready(()),
            Some(_) => Poll::Pending,
        }
    }
}
