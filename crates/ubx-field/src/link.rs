//! The radio link's model: when a chunk of bytes sent now arrives at the other end.
//!
//! - **Rate**: one token bucket per direction, shared by every connection of the module, as one
//!   radio carries them all. A chunk of `n` bytes occupies the direction for `n / rate`; a chunk
//!   waits for the ones before it (any connection's). The bucket holds no burst: an idle link
//!   does not save up capacity (beyond 20 ms, the slack for timers that wake late).
//! - **Delay**: half the round trip each way, plus jitter uniform in `0..=jitter`. A connection's
//!   chunks stay in order, as TCP delivers them.
//! - **Loss**: a lost TCP segment is retransmitted after the retransmission timeout, and the
//!   bytes behind it wait (head-of-line blocking). A chunk of `s` segments (1460 bytes each)
//!   loses one with probability `1 - (1 - loss)^s` and then arrives `RTO = rtt + max(200 ms,
//!   4 × jitter)` late (RFC 6298 with Linux's 200 ms minimum). Bytes are never corrupted.
//! - **Connect**: a TCP connection's three-way handshake ([`Link::handshake`]) before its first
//!   byte. The end that opened it may send once its SYN went out and the SYN-ACK came back, a
//!   round trip; the other end once the opener's ACK has reached it, half a round trip later.
//!   Each of the three segments is delayed as a chunk is (half the round trip plus jitter); a
//!   lost SYN or SYN-ACK goes again after TCP's initial retransmission timeout, 1 s (RFC 6298
//!   (2.1)). They are small: they take no share of the rate.
//!
//! Time is tokio's, so the whole model runs under a paused clock in tests. `--seed` makes jitter
//! and loss the same on every run.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::spec::LinkSpec;

/// A direction of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards the module (server → module).
    Down,
    /// From the module.
    Up,
}

/// How late a chunk may come before the direction counts as having been idle.
const SLACK: Duration = Duration::from_millis(20);

/// TCP's maximum segment size on a 1500-byte path.
const SEGMENT: u64 = 1460;

/// TCP's retransmission timeout before a round trip was measured: a lost SYN or SYN-ACK goes
/// again after it (RFC 6298 (2.1); Linux's `TCP_TIMEOUT_INIT`).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);

/// When each end of a new connection may send its first byte ([`Link::handshake`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The end that opened the connection: its SYN went out and the SYN-ACK came back.
    pub opener: Instant,
    /// The end that accepted it: the opener's ACK has arrived.
    pub acceptor: Instant,
}

#[derive(Debug)]
struct State {
    spec: LinkSpec,
    /// When each direction is free again.
    down_free: Instant,
    up_free: Instant,
    rng: SmallRng,
}

/// The module's link, shared by its connections.
#[derive(Debug)]
pub struct Link {
    state: Mutex<State>,
}

impl Link {
    pub fn new(spec: LinkSpec, seed: u64) -> Link {
        let now = Instant::now();
        Link {
            state: Mutex::new(State {
                spec,
                down_free: now,
                up_free: now,
                rng: SmallRng::seed_from_u64(seed),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn spec(&self) -> LinkSpec {
        self.lock().spec
    }

    /// Changes the link; chunks already scheduled keep their times.
    pub fn set(&self, spec: LinkSpec) {
        self.lock().spec = spec;
    }

    /// How many bytes to move as one chunk: about 10 ms of the rate, between one segment and
    /// 64 KiB, so pacing is smooth and a rate change takes effect soon.
    pub fn chunk(&self, direction: Direction) -> usize {
        let spec = self.lock().spec;
        let rate = match direction {
            Direction::Down => spec.down,
            Direction::Up => spec.up,
        };
        match rate {
            Some(r) => ((r / 100) as usize).clamp(SEGMENT as usize, 64 * 1024),
            None => 64 * 1024,
        }
    }

    /// The three-way handshake of a connection opened at `now`: when each end may send.
    pub fn handshake(&self, now: Instant) -> Handshake {
        let mut state = self.lock();
        let syn = state.segment_delay(true);
        let syn_ack = state.segment_delay(true);
        let ack = state.segment_delay(false);
        let opener = now + syn + syn_ack;
        Handshake {
            opener,
            acceptor: opener + ack,
        }
    }

    /// When `n` bytes sent in `direction` at `now` arrive.
    pub fn schedule(&self, direction: Direction, n: usize, now: Instant) -> Instant {
        let mut state = self.lock();
        let spec = state.spec;
        let (rate, free) = match direction {
            Direction::Down => (spec.down, state.down_free),
            Direction::Up => (spec.up, state.up_free),
        };
        let sent = match rate {
            Some(rate) if rate > 0 => {
                // A chunk read a little after the direction became free (timers wake at
                // millisecond steps) keeps the schedule; after a real pause the link restarts.
                let start = if free + SLACK >= now { free } else { now };
                let end = start + Duration::from_secs_f64(n as f64 / rate as f64);
                match direction {
                    Direction::Down => state.down_free = end,
                    Direction::Up => state.up_free = end,
                }
                end
            }
            _ => now,
        };
        let mut delay = spec.rtt / 2;
        if !spec.jitter.is_zero() {
            let u: f64 = state.rng.random();
            delay += spec.jitter.mul_f64(u);
        }
        if spec.loss > 0.0 {
            let segments = (n as u64).div_ceil(SEGMENT).max(1);
            let p = 1.0 - (1.0 - spec.loss / 100.0).powf(segments as f64);
            if state.rng.random_bool(p.clamp(0.0, 1.0)) {
                delay += rto(&spec);
            }
        }
        sent + delay
    }
}

impl State {
    /// One handshake segment's way across: half the round trip and the jitter; when `lossy`, a
    /// loss costs the initial retransmission timeout. Draws from the generator only for what
    /// the link has, as [`Link::schedule`] does.
    fn segment_delay(&mut self, lossy: bool) -> Duration {
        let spec = self.spec;
        let mut delay = spec.rtt / 2;
        if !spec.jitter.is_zero() {
            let u: f64 = self.rng.random();
            delay += spec.jitter.mul_f64(u);
        }
        if lossy && spec.loss > 0.0 && self.rng.random_bool((spec.loss / 100.0).clamp(0.0, 1.0)) {
            delay += INITIAL_RTO;
        }
        delay
    }
}

/// The retransmission timeout the loss model charges.
pub fn rto(spec: &LinkSpec) -> Duration {
    spec.rtt + Duration::from_millis(200).max(spec.jitter * 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn rate_is_shared_and_delay_added() {
        let spec = LinkSpec::parse("down=8kbit,rtt=100ms").unwrap(); // 1000 bytes/s
        let link = Link::new(spec, 1);
        let t0 = Instant::now();
        // 500 bytes take 0.5 s, then half the round trip.
        assert_eq!(link.schedule(Direction::Down, 500, t0), t0 + ms(550));
        // Another connection's 500 bytes wait for the first.
        assert_eq!(link.schedule(Direction::Down, 500, t0), t0 + ms(1050));
        // The other direction is free (unlimited): only the delay.
        assert_eq!(link.schedule(Direction::Up, 500, t0), t0 + ms(50));
        // An idle link saves nothing up.
        let later = t0 + ms(5000);
        assert_eq!(
            link.schedule(Direction::Down, 1000, later),
            later + ms(1050)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_handshake_lets_the_opener_send_after_one_round_trip() {
        let t0 = Instant::now();
        let link = Link::new(LinkSpec::parse("down=8kbit,rtt=300ms").unwrap(), 1);
        let h = link.handshake(t0);
        assert_eq!(h.opener, t0 + ms(300));
        assert_eq!(h.acceptor, t0 + ms(450));
        // It takes no share of the rate: a chunk right after is not held back.
        assert_eq!(link.schedule(Direction::Down, 500, t0), t0 + ms(650));
        // Unshaped: nothing to wait for.
        let free = Link::new(LinkSpec::UNSHAPED, 1).handshake(t0);
        assert_eq!((free.opener, free.acceptor), (t0, t0));
        // Jitter adds up to its amount to each segment; a lost SYN or SYN-ACK costs 1 s.
        let jittery = Link::new(LinkSpec::parse("rtt=100ms,jitter=40ms").unwrap(), 3);
        for _ in 0..20 {
            let h = jittery.handshake(t0);
            assert!(h.opener >= t0 + ms(100) && h.opener <= t0 + ms(180));
            assert!(h.acceptor >= h.opener + ms(50) && h.acceptor <= h.opener + ms(90));
        }
        let always = LinkSpec {
            loss: 100.0,
            ..LinkSpec::parse("rtt=100ms").unwrap()
        };
        let lossy = Link::new(always, 3);
        let h = lossy.handshake(t0);
        assert_eq!((h.opener, h.acceptor), (t0 + ms(2100), t0 + ms(2150)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_seed_makes_jitter_and_loss_repeat() {
        let spec = LinkSpec::parse("rtt=100ms,jitter=50ms,loss=20").unwrap();
        let run = |seed| {
            let link = Link::new(spec, seed);
            let t0 = Instant::now();
            (0..50)
                .map(|_| link.schedule(Direction::Down, 1460, t0) - t0)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let delays = run(7);
        assert!(delays.iter().all(|d| *d >= ms(50)));
        // About 20 % of the segments pay an RTO of 100 + 200 ms.
        let lost = delays.iter().filter(|d| **d >= ms(350)).count();
        assert!((3..=20).contains(&lost), "{lost} of 50 lost");
    }
}
