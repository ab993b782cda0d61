//! A terminal's line: bytes paced at the baud rate, and the line faults (`uart drop`/`flip`).
//!
//! With a rate, bytes move in both directions at `rate / 10` bytes per second (8N1: a start bit,
//! eight data bits, a stop bit), each direction on its own, as on a UART's separate RX and TX
//! wires. The pace follows `AT+IPR` after its `OK` (the driver sends the new rate). Without a
//! rate the line is not paced, and `AT+IPR` changes nothing but what `AT+IPR?` says.
//!
//! Line faults act on both directions: `drop` loses a byte, `flip` inverts one of its bits, each
//! with probability `rate`, from the module's seeded generator.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::Field;
use super::faults::UartFault;

/// How late a timer may wake before the line counts as having been idle.
const SLACK: Duration = Duration::from_millis(20);

/// One direction's pacing: when the line is free again.
#[derive(Debug)]
struct Pace {
    free: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            free: Instant::now(),
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// How many bytes may move now at `bytes_per_sec`, at most `want`; `Pending` (with a timer
    /// set) when the line is still busy.
    fn allowance(&mut self, cx: &mut Context<'_>, want: usize, bytes_per_sec: f64) -> Poll<usize> {
        let now = Instant::now();
        if self.free > now {
            self.sleep.as_mut().reset(self.free);
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        // About 10 ms of bytes at a time, at least one.
        Poll::Ready(want.min(((bytes_per_sec / 100.0) as usize).max(1)))
    }

    /// `n` bytes moved: the line is busy for their time. A timer that woke a little late (tokio
    /// rounds to the millisecond) does not push the schedule back; a line idle for longer starts
    /// afresh.
    fn spend(&mut self, n: usize, bytes_per_sec: f64) {
        let now = Instant::now();
        let start = if self.free + SLACK >= now {
            self.free
        } else {
            now
        };
        self.free = start + Duration::from_secs_f64(n as f64 / bytes_per_sec);
    }
}

/// A terminal's byte stream on a (possibly paced, possibly faulty) line.
pub struct Uart<S> {
    inner: S,
    /// Bits per second, when paced.
    rate: Option<u32>,
    ipr: Option<watch::Receiver<u32>>,
    field: Arc<Field>,
    rng: SmallRng,
    rx: Pace,
    tx: Pace,
    /// Set when a line fault changed bytes the host sent: a trace must not record them (a
    /// password with a lost quote would escape the trace's masking).
    disturbed: Arc<std::sync::atomic::AtomicBool>,
}

impl<S> Uart<S> {
    /// `rate`: `--baud`, `None` for an unpaced line; `ipr`: the rates `AT+IPR` sets.
    pub fn new(
        inner: S,
        rate: Option<u32>,
        ipr: Option<watch::Receiver<u32>>,
        field: Arc<Field>,
    ) -> Self {
        let rng = SmallRng::seed_from_u64(field.seed ^ 0x5541_5254);
        Uart {
            inner,
            rate,
            ipr,
            field,
            rng,
            rx: Pace::new(),
            tx: Pace::new(),
            disturbed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// The flag set when a line fault changed bytes from the host.
    pub fn disturbed(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.disturbed.clone()
    }

    fn bytes_per_sec(&mut self) -> Option<f64> {
        if let Some(ipr) = &mut self.ipr
            && ipr.has_changed().unwrap_or(false)
        {
            let rate = *ipr.borrow_and_update();
            // Only a paced line changes its pace; 0 (autobauding) keeps the rate.
            if self.rate.is_some() && rate > 0 {
                self.rate = Some(rate);
            }
        }
        self.rate.map(|r| f64::from(r) / 10.0)
    }

    /// Applies the line faults in force to `bytes`.
    fn disturb(&mut self, faults: &[UartFault], bytes: &mut Vec<u8>) {
        for fault in faults {
            let rng = &mut self.rng;
            if fault.flip {
                for b in bytes.iter_mut() {
                    if rng.random_bool(fault.rate) {
                        let bit: u32 = rng.random_range(0..8);
                        *b ^= 1 << bit;
                    }
                }
            } else {
                bytes.retain(|_| !rng.random_bool(fault.rate));
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Uart<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let pace = this.bytes_per_sec();
        let faults = this.field.faults.uart_faults();
        if pace.is_none() && faults.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let want = match pace {
            Some(bps) => match this.rx.allowance(cx, buf.remaining(), bps) {
                Poll::Ready(n) => n,
                Poll::Pending => return Poll::Pending,
            },
            None => buf.remaining(),
        };
        let mut part = vec![0u8; want];
        let mut rb = ReadBuf::new(&mut part);
        match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Ok(()));
                }
                if let Some(bps) = pace {
                    this.rx.spend(n, bps);
                }
                part.truncate(n);
                if !faults.is_empty() {
                    this.disturbed
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                this.disturb(&faults, &mut part);
                if part.is_empty() {
                    // Every byte was lost on the line: nothing to hand over yet.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                buf.put_slice(&part);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Uart<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let pace = this.bytes_per_sec();
        let faults = this.field.faults.uart_faults();
        if pace.is_none() && faults.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let want = match pace {
            Some(bps) => match this.tx.allowance(cx, buf.len(), bps) {
                Poll::Ready(n) => n,
                Poll::Pending => return Poll::Pending,
            },
            None => buf.len(),
        };
        if faults.is_empty() {
            let r = Pin::new(&mut this.inner).poll_write(cx, &buf[..want]);
            if let (Poll::Ready(Ok(n)), Some(bps)) = (&r, pace) {
                this.tx.spend(*n, bps);
            }
            return r;
        }
        // With line faults, the bytes are written one at a time so a partial write never
        // disturbs a byte twice.
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut one = vec![buf[0]];
        this.disturb(&faults, &mut one);
        let r = if one.is_empty() {
            Poll::Ready(Ok(1))
        } else {
            match Pin::new(&mut this.inner).poll_write(cx, &one) {
                Poll::Ready(Ok(0)) => Poll::Ready(Ok(0)),
                Poll::Ready(Ok(_)) => Poll::Ready(Ok(1)),
                other => other,
            }
        };
        if let (Poll::Ready(Ok(n)), Some(bps)) = (&r, pace) {
            this.tx.spend(*n, bps);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
