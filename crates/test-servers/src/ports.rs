//! Port blocks: a control port plus a passive range per server, safe across threads and
//! processes.
//!
//! An FTP server needs its control port *and* a passive data port range fixed in its
//! configuration before it starts, so binding port 0 is not enough. Two servers started by
//! parallel tests (threads of one test binary or several test binaries at once) must never get
//! overlapping ranges, or one server's data connection would be accepted by the other.
//!
//! The ports `20000..32768` (below Linux' default ephemeral range `32768..61000`, so the kernel
//! never hands them out for outgoing connections or port-0 binds) are cut into blocks of
//! [`BLOCK_LEN`] ports. A block belongs to whoever holds an exclusive `flock` on
//! `$TMPDIR/ubxftp-test-ports/<base>.lock`. `flock` locks belong to the open file description, so
//! they exclude other threads of the same process as well as other processes, and the kernel
//! drops them when the holder dies: no stale reservations. After locking, every port of the
//! block is bind-probed on the server's address, so ports used by something unrelated are skipped.

use std::fs::{File, OpenOptions};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result, io_err};

/// First port of the first block.
const FIRST_PORT: u16 = 20000;
/// One past the last usable port (start of the kernel's ephemeral range).
const END_PORT: u16 = 32768;
/// Ports per block: 1 control port + 31 passive ports.
pub(crate) const BLOCK_LEN: u16 = 32;

/// A locked block of ports; the lock is released on drop.
#[derive(Debug)]
pub(crate) struct PortBlock {
    pub base: u16,
    _lock: File,
}

impl PortBlock {
    /// The control port.
    pub fn control(&self) -> u16 {
        self.base
    }

    /// The passive data ports (the rest of the block).
    pub fn passive(&self) -> RangeInclusive<u16> {
        (self.base + 1)..=(self.base + BLOCK_LEN - 1)
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("ubxftp-test-ports")
}

/// Lock a free block whose ports can all be bound on `ip`.
pub(crate) fn allocate(ip: IpAddr) -> Result<PortBlock> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    let blocks = u32::from((END_PORT - FIRST_PORT) / BLOCK_LEN);
    // Start at a pseudo-random block so parallel processes rarely contend for the same lock.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(nanos)
        .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(7919));
    let start = seed % blocks;
    for i in 0..blocks {
        let index = (start + i) % blocks;
        // index < blocks <= 399, so this fits in u16.
        let base = FIRST_PORT + (index as u16) * BLOCK_LEN;
        let path = dir.join(format!("{base}.lock"));
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => return Err(io_err(format!("open {}", path.display()))(e)),
        };
        if file.try_lock().is_err() {
            continue;
        }
        let all_free = (base..base + BLOCK_LEN)
            .all(|port| TcpListener::bind(SocketAddr::new(ip, port)).is_ok());
        if all_free {
            return Ok(PortBlock { base, _lock: file });
        }
    }
    Err(Error::NoPorts(format!(
        "all {blocks} blocks of {BLOCK_LEN} ports in {FIRST_PORT}..{END_PORT} are locked or busy on {ip}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn blocks_held_at_once_are_disjoint() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let blocks: Vec<PortBlock> = (0..20).map(|_| allocate(ip).expect("block")).collect();
        let mut bases: Vec<u16> = blocks.iter().map(|b| b.base).collect();
        bases.sort_unstable();
        bases.dedup();
        assert_eq!(bases.len(), blocks.len());
        for b in &blocks {
            assert!(b.passive().start() > &b.control());
            assert!(*b.passive().end() < END_PORT);
        }
    }
}
