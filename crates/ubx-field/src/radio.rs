//! The radio's activity, as the network's RRC (radio resource control) sees it.
//!
//! A module holds a signalling connection to its cell while it sends or receives; the network
//! releases it after [`RRC_INACTIVITY`] without data, and the module is idle until the next
//! byte. Every place where the module's bytes meet the radio reports here: each socket when it
//! moves bytes or is opened ([`super::socket::FieldSocket`]), and each name lookup
//! ([`super::Field::before_lookup`]). What the module makes of it (`+CSCON`) is its own business:
//! this only counts, remembers when, and wakes the one who waits while the connection is down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the network keeps the signalling connection without data before it releases it:
/// the RRC inactivity timer. Networks choose it (3GPP TS 36.331 leaves it to them); 10 s is the
/// common LTE default of the large radio vendors, and LTE-M networks use 10 to 20 s
/// (docs/FIELD.md).
pub const RRC_INACTIVITY: Duration = Duration::from_secs(10);

/// The activity of one module's radio.
#[derive(Debug)]
pub struct Radio {
    start: Instant,
    /// How many activities so far: the module compares it with the count it last saw.
    count: AtomicU64,
    /// When the last one happened, in microseconds since `start`.
    last_us: AtomicU64,
    /// Whether the signalling connection is up; while it is, activity wakes nobody.
    connected: AtomicBool,
    wake: Notify,
}

impl Radio {
    pub fn new(start: Instant) -> Radio {
        Radio {
            start,
            count: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Bytes moved over the radio, or signalling went over it, now.
    pub fn activity(&self) {
        let us = u64::try_from(Instant::now().duration_since(self.start).as_micros())
            .unwrap_or(u64::MAX);
        self.last_us.store(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Release);
        if !self.connected.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    /// How many activities there were.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// When the last activity was (the start, if none).
    pub fn last(&self) -> Instant {
        self.start + Duration::from_micros(self.last_us.load(Ordering::Relaxed))
    }

    /// When the network releases the connection if nothing more moves.
    pub fn idle_at(&self) -> Instant {
        self.last() + RRC_INACTIVITY
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The module's view of its signalling connection changed.
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        // The one who waits re-reads the state: a deadline now, or none.
        self.wake.notify_one();
    }

    /// Waits for activity while the connection is down, or for a change of the connection.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn activity_is_counted_and_timed() {
        let radio = Radio::new(Instant::now());
        assert_eq!(radio.count(), 0);
        tokio::time::advance(Duration::from_secs(3)).await;
        radio.activity();
        assert_eq!(radio.count(), 1);
        assert_eq!(radio.idle_at(), Instant::now() + RRC_INACTIVITY);
        // Idle: the activity left a wake-up for the waiter.
        tokio::time::timeout(Duration::from_millis(1), radio.woken())
            .await
            .expect("woken");
    }
}
