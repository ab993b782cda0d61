//! The enhanced direct-link triggers (`+UFTP=9/10/11`): when the bytes a host sends in a store
//! (`AT+UFTPC=7`) go out on the data connection.
//!
//! With every trigger off (the factory state) each piece of host data is sent as it arrives.
//! With any trigger on, host bytes are held and sent when a trigger fires — the triggers combine
//! with OR, as the SARA-R4 manual describes them for socket direct link:
//!
//! - **data length** `N`: whenever `N` bytes are held, `N` bytes go;
//! - **character** `c`: when `c` arrives, everything held up to and including it goes;
//! - **timer** `T` ms: `T` after the oldest byte held arrived, everything held goes.
//!
//! When the host leaves data mode what is still held goes before the data connection closes, so
//! the file is complete whatever the triggers. The chapter defines the values only
//! (shared/spec/lexi-r10-ftp-at-commands.txt); the timing model is in docs/FIDELITY.md.
//!
//! [`SendBuffer`] is sans-IO: the store loop feeds it bytes and the time and sleeps until its
//! [`SendBuffer::deadline`], so its behaviour is unit-tested with made-up instants.

use std::time::Duration;

use tokio::time::Instant;

/// The three triggers of the FTP profile; `None` is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Triggers {
    pub timer: Option<Duration>,
    pub length: Option<usize>,
    pub character: Option<u8>,
}

impl Triggers {
    fn any(&self) -> bool {
        self.timer.is_some() || self.length.is_some() || self.character.is_some()
    }
}

/// Host bytes held until a trigger fires.
#[derive(Debug)]
pub struct SendBuffer {
    triggers: Triggers,
    held: Vec<u8>,
    /// When the oldest held byte arrived.
    since: Option<Instant>,
}

impl SendBuffer {
    pub fn new(triggers: Triggers) -> Self {
        SendBuffer {
            triggers,
            held: Vec::new(),
            since: None,
        }
    }

    /// Takes host bytes that arrived at `now`; returns what must be sent now (possibly nothing).
    pub fn push(&mut self, data: &[u8], now: Instant) -> Vec<u8> {
        if !self.triggers.any() {
            return data.to_vec();
        }
        if self.held.is_empty() && !data.is_empty() {
            self.since = Some(now);
        }
        let mut out = Vec::new();
        for &byte in data {
            self.held.push(byte);
            let by_char = self.triggers.character == Some(byte);
            let by_length = self.triggers.length.is_some_and(|n| self.held.len() >= n);
            if by_char || by_length {
                out.append(&mut self.held);
                self.since = None;
            }
        }
        if !self.held.is_empty() && self.since.is_none() {
            self.since = Some(now);
        }
        // The timer may have run out meanwhile (a backlog read late).
        out.extend(self.expire(now));
        out
    }

    /// When the timer trigger fires next, if it is armed.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.since? + self.triggers.timer?)
    }

    /// What the timer trigger releases at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<u8> {
        match self.deadline() {
            Some(deadline) if now >= deadline => self.finish(),
            _ => Vec::new(),
        }
    }

    /// Everything still held (the host left data mode).
    pub fn finish(&mut self) -> Vec<u8> {
        self.since = None;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn off_sends_everything_at_once() {
        let mut b = SendBuffer::new(Triggers::default());
        assert_eq!(b.push(b"abc", t0()), b"abc");
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn length_sends_whole_blocks() {
        let now = t0();
        let mut b = SendBuffer::new(Triggers {
            length: Some(4),
            ..Triggers::default()
        });
        assert_eq!(b.push(b"ab", now), b"");
        assert_eq!(b.push(b"cdefghij", now), b"abcdefgh");
        assert_eq!(b.finish(), b"ij");
    }

    #[test]
    fn character_sends_up_to_and_including_it() {
        let now = t0();
        let mut b = SendBuffer::new(Triggers {
            character: Some(b'\n'),
            ..Triggers::default()
        });
        assert_eq!(b.push(b"line one\nline", now), b"line one\n");
        assert_eq!(b.push(b" two\n", now), b"line two\n");
        assert_eq!(b.finish(), b"");
    }

    #[test]
    fn timer_counts_from_the_oldest_held_byte() {
        let now = t0();
        let ms = Duration::from_millis;
        let mut b = SendBuffer::new(Triggers {
            timer: Some(ms(500)),
            ..Triggers::default()
        });
        assert_eq!(b.push(b"a", now), b"");
        assert_eq!(b.deadline(), Some(now + ms(500)));
        // More bytes do not push the deadline back.
        assert_eq!(b.push(b"b", now + ms(400)), b"");
        assert_eq!(b.deadline(), Some(now + ms(500)));
        assert_eq!(b.expire(now + ms(499)), b"");
        assert_eq!(b.expire(now + ms(500)), b"ab");
        assert_eq!(b.deadline(), None);
        // A late read releases at once.
        assert_eq!(b.push(b"c", now + ms(600)), b"");
        assert_eq!(b.push(b"d", now + ms(1200)), b"cd");
    }

    #[test]
    fn triggers_combine_with_or() {
        let now = t0();
        let mut b = SendBuffer::new(Triggers {
            timer: Some(Duration::from_secs(1)),
            length: Some(8),
            character: Some(b';'),
        });
        assert_eq!(b.push(b"ab;cd", now), b"ab;");
        assert_eq!(b.deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(b.push(b"efghij", now), b"cdefghij");
        assert_eq!(b.deadline(), None);
    }
}
