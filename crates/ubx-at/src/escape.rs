//! Telling the escape sequence `+++` from data, by the silence around it.
//!
//! In data mode every byte value is data, `+` included, so the module cannot tell a file that
//! contains `+++` from a host that wants to leave by the bytes alone. V.250's answer is time: the
//! escape is the S2 character three times, framed by the S12 guard time (SARA-R4 manual, ATS12;
//! related-commands.md §5):
//!
//! 1. at least the guard time of silence **before** the first S2 character;
//! 2. less than the guard time **between** the three (this module accepts a gap shorter than the
//!    guard time; any longer gap and the characters are data);
//! 3. the guard time of silence **after** the third: any byte in that window cancels the escape
//!    and all of it is data.
//!
//! Candidate escape characters are held back until the timing decides; once they turn out to be
//! data they are released in order, before the byte that decided it. The detector never looks at
//! a clock: the caller passes the time with each call, and [`EscapeDetector::deadline`] says when
//! to call [`EscapeDetector::timeout`] — so every case is a unit test with fake instants.
//!
//! With a guard time of 0 (`ATS12=0`) no silence is asked for: three S2 characters in a row are
//! the escape the moment the third arrives (docs/FIDELITY.md).

use std::time::{Duration, Instant};

/// The guard time an S12 value stands for (units of 1/50 s).
pub fn guard_time(s12: u8) -> Duration {
    Duration::from_millis(u64::from(s12) * 20)
}

/// What a byte or a timeout decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Nothing yet (bytes may have been released as data).
    Undecided,
    /// The host sent the escape sequence: leave data mode.
    Detected,
}

/// The guard-time state machine of one terminal in data mode. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct EscapeDetector {
    escape_char: u8,
    guard: Duration,
    /// When the line last carried a byte that was not part of a candidate escape (or when data
    /// mode began).
    last_data: Instant,
    /// How many escape characters are held (0..=3).
    held: u8,
    /// When the last held escape character arrived.
    last_held: Instant,
}

impl EscapeDetector {
    /// A detector for data mode entered at `now`, with the terminal's S2 and S12.
    pub fn new(escape_char: u8, s12: u8, now: Instant) -> Self {
        EscapeDetector {
            escape_char,
            guard: guard_time(s12),
            last_data: now,
            held: 0,
            last_held: now,
        }
    }

    /// Consumes bytes that arrived at `now`; data goes to `data`, in order. Stops at the escape
    /// (possible only with a zero guard time): the bytes after it are not consumed, and the
    /// number consumed is returned with the decision.
    pub fn push(&mut self, input: &[u8], now: Instant, data: &mut Vec<u8>) -> (usize, Escape) {
        for (i, &b) in input.iter().enumerate() {
            if self.byte(b, now, data) == Escape::Detected {
                return (i + 1, Escape::Detected);
            }
            // Bytes of one read share one instant: once one of them was data, there is no
            // silence before any later one, so (with a guard time) the rest is data too.
            if self.held == 0 && self.last_data == now && !self.guard.is_zero() {
                data.extend_from_slice(&input[i + 1..]);
                return (input.len(), Escape::Undecided);
            }
        }
        (input.len(), Escape::Undecided)
    }

    fn byte(&mut self, b: u8, now: Instant, data: &mut Vec<u8>) -> Escape {
        let zero = self.guard.is_zero();
        if self.held > 0 {
            let gap = now.saturating_duration_since(self.last_held);
            let continues = self.held < 3 && b == self.escape_char && (zero || gap < self.guard);
            if continues {
                self.held += 1;
                self.last_held = now;
                if zero && self.held == 3 {
                    self.held = 0;
                    return Escape::Detected;
                }
                return Escape::Undecided;
            }
            // Too slow, the wrong byte, or a byte inside the silence after the third: what was
            // held is data, and this byte is judged afresh.
            self.release(data);
        }
        let silence = now.saturating_duration_since(self.last_data);
        if b == self.escape_char && silence >= self.guard {
            self.held = 1;
            self.last_held = now;
        } else {
            data.push(b);
            self.last_data = now;
        }
        Escape::Undecided
    }

    /// Releases the held escape characters as data. The line counts as silent since the last
    /// of them, so a later candidate is measured from there.
    fn release(&mut self, data: &mut Vec<u8>) {
        data.extend(std::iter::repeat_n(
            self.escape_char,
            usize::from(self.held),
        ));
        self.held = 0;
        self.last_data = self.last_held;
    }

    /// When [`timeout`](Self::timeout) must be called, if anything is held.
    pub fn deadline(&self) -> Option<Instant> {
        (self.held > 0).then(|| self.last_held + self.guard)
    }

    /// Decides what the passing of time decides: three held characters followed by the guard
    /// time of silence are the escape; fewer, after a gap of the guard time, are data.
    pub fn timeout(&mut self, now: Instant, data: &mut Vec<u8>) -> Escape {
        match self.deadline() {
            Some(deadline) if now >= deadline => {
                if self.held == 3 {
                    self.held = 0;
                    Escape::Detected
                } else {
                    self.release(data);
                    Escape::Undecided
                }
            }
            _ => Escape::Undecided,
        }
    }

    /// Releases the escape characters held so far as data (the host left by other means).
    pub fn release_held(&mut self, data: &mut Vec<u8>) {
        if self.held > 0 {
            self.release(data);
        }
    }

    /// Whether escape characters are being held back.
    pub fn holding(&self) -> bool {
        self.held > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// A detector entered at t0 with the factory settings (`+`, 1 s).
    fn factory() -> (EscapeDetector, Instant) {
        let t0 = Instant::now();
        (EscapeDetector::new(b'+', 50, t0), t0)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn guard_time_is_in_fiftieths() {
        assert_eq!(guard_time(50), S);
        assert_eq!(guard_time(0), Duration::ZERO);
        assert_eq!(guard_time(255), ms(5100));
    }

    #[test]
    fn framed_escape_is_detected_after_the_silence_that_follows() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        assert_eq!(d.push(b"abc", t0, &mut data), (3, Escape::Undecided));
        let t1 = t0 + ms(1500);
        assert_eq!(d.push(b"+++", t1, &mut data), (3, Escape::Undecided));
        assert_eq!(d.deadline(), Some(t1 + S));
        assert_eq!(d.timeout(t1 + ms(999), &mut data), Escape::Undecided);
        assert_eq!(d.timeout(t1 + S, &mut data), Escape::Detected);
        assert_eq!(data, b"abc");
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn escape_split_across_reads_counts_when_the_gaps_are_short() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        let t = t0 + S;
        d.push(b"+", t, &mut data);
        d.push(b"+", t + ms(400), &mut data);
        d.push(b"+", t + ms(800), &mut data);
        assert_eq!(d.timeout(t + ms(1800), &mut data), Escape::Detected);
        assert!(data.is_empty());
    }

    #[test]
    fn too_little_silence_before_makes_it_data() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        d.push(b"x", t0 + ms(100), &mut data);
        d.push(b"+++", t0 + ms(500), &mut data);
        assert_eq!(d.deadline(), None);
        assert_eq!(data, b"x+++");
    }

    #[test]
    fn entering_data_mode_starts_the_silence() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        d.push(b"+++", t0 + ms(999), &mut data);
        assert_eq!(data, b"+++");
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        d.push(b"+++", t0 + S, &mut data);
        assert_eq!(d.timeout(t0 + ms(2000), &mut data), Escape::Detected);
    }

    #[test]
    fn too_long_a_gap_between_makes_it_data() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        let t = t0 + S;
        d.push(b"+", t, &mut data);
        d.push(b"+", t + ms(500), &mut data);
        // The gap runs out: both are data, released by the timer.
        assert_eq!(d.timeout(t + ms(1500), &mut data), Escape::Undecided);
        assert_eq!(data, b"++");
        // A third `+` long after that starts a fresh candidate (the silence since the second
        // counts).
        d.push(b"+", t + ms(2600), &mut data);
        assert!(d.holding());
        d.push(b"++", t + ms(2700), &mut data);
        assert_eq!(d.timeout(t + ms(3700), &mut data), Escape::Detected);
        assert_eq!(data, b"++");
    }

    #[test]
    fn a_late_plus_after_a_slow_one_is_judged_afresh() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        let t = t0 + S;
        d.push(b"+", t, &mut data);
        // 1.2 s later, before any timer ran: the first `+` is data, and this one had 1.2 s of
        // silence before it, so it may begin an escape.
        d.push(b"+", t + ms(1200), &mut data);
        assert_eq!(data, b"+");
        d.push(b"++", t + ms(1300), &mut data);
        assert_eq!(d.timeout(t + ms(2300), &mut data), Escape::Detected);
    }

    #[test]
    fn a_byte_in_the_silence_after_cancels() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        let t = t0 + S;
        d.push(b"+++", t, &mut data);
        d.push(b"A", t + ms(900), &mut data);
        assert_eq!(data, b"+++A");
        assert_eq!(d.deadline(), None);
        // A fourth `+` cancels too: `++++` is data.
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        d.push(b"++++", t0 + S, &mut data);
        assert_eq!(data, b"++++");
    }

    #[test]
    fn data_that_looks_like_commands_is_data() {
        let (mut d, t0) = factory();
        let mut data = Vec::new();
        let text = b"+++\r\nOK\r\nDISCONNECT\r\n+++AT\r";
        d.push(text, t0 + S, &mut data);
        assert_eq!(d.timeout(t0 + ms(5000), &mut data), Escape::Undecided);
        assert_eq!(data, text);
    }

    #[test]
    fn other_escape_characters_and_guard_times() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(b'~', 10, t0); // 200 ms
        let mut data = Vec::new();
        d.push(b"+++", t0 + ms(300), &mut data);
        d.push(b"~~~", t0 + ms(600), &mut data);
        assert_eq!(d.timeout(t0 + ms(800), &mut data), Escape::Detected);
        assert_eq!(data, b"+++");
    }

    #[test]
    fn zero_guard_time_escapes_at_once_and_leaves_the_rest() {
        let t0 = Instant::now();
        let mut d = EscapeDetector::new(b'+', 0, t0);
        let mut data = Vec::new();
        assert_eq!(d.push(b"ab+++cd", t0, &mut data), (5, Escape::Detected));
        assert_eq!(data, b"ab");
    }

    proptest::proptest! {
        /// Whatever arrives, whenever: no panic, and every byte that is not part of a detected
        /// escape comes out as data, in order.
        #[test]
        fn bytes_are_never_lost_or_reordered(
            chunks in proptest::collection::vec(
                (proptest::collection::vec(proptest::prop_oneof![
                    proptest::strategy::Just(b'+'), proptest::num::u8::ANY], 0..8),
                 0u64..2500),
                0..40),
            s12 in 0u8..100,
        ) {
            let t0 = Instant::now();
            let mut d = EscapeDetector::new(b'+', s12, t0);
            let mut data = Vec::new();
            let mut sent = Vec::new();
            let mut now = t0;
            let mut escapes = 0usize;
            for (chunk, wait) in chunks {
                now += Duration::from_millis(wait);
                if let Some(deadline) = d.deadline()
                    && deadline <= now
                    && d.timeout(deadline, &mut data) == Escape::Detected
                {
                    escapes += 1;
                }
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    let (n, e) = d.push(rest, now, &mut data);
                    sent.extend_from_slice(&rest[..n]);
                    if e == Escape::Detected {
                        escapes += 1;
                    }
                    rest = &rest[n..];
                }
            }
            if let Some(deadline) = d.deadline()
                && d.timeout(deadline, &mut data) == Escape::Detected
            {
                escapes += 1;
            }
            proptest::prop_assert_eq!(data.len() + 3 * escapes, sent.len());
            proptest::prop_assert!(!d.holding());
        }
    }
}
