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
