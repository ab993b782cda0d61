//! Writing a download into the module file system off the runtime's threads.
//!
//! A retrieve receives from the network (and decrypts, over FTPS) and writes to disk. Done in
//! turn on one task, each waits for the other; with the writes on a blocking thread, the write of
//! one chunk overlaps the reception of the next, and the runtime's threads never wait for the
//! disk.
//!
//! ```text
//!   retrieve task ──filled chunk──▶ queue ──▶ blocking thread: FileWriter::write_what_fits
//!        ▲                                            │
//!        └──────────────empty chunk───────────────────┘
//! ```
//!
//! Two things keep a fleet of slow downloads cheap (a thousand modules on NB-IoT links each
//! fetching a firmware image, `docs/FLEET.md`):
//! - the blocking thread is borrowed from tokio's pool only while there are chunks to write and
//!   given back when the queue is empty, so a slow download holds no thread while it waits for
//!   the network, and a thousand of them never exhaust the pool (512 threads); a fast one keeps
//!   its thread busy for as long as chunks keep coming;
//! - chunks start small (64 KiB) and double, up to 1 MiB, only while they fill fast: a fast link
//!   gets large chunks, whose per-chunk costs vanish beside the copy, and a slow one keeps a few
//!   hundred KiB of buffers instead of megabytes.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::fs::{FileWriter, FsError};

/// The first chunk's size.
const FIRST_CHUNK: usize = 64 * 1024;
/// The largest chunk: large enough that per-chunk costs (a lock, a `metadata` call, a wake-up)
/// vanish beside the copy.
const LARGEST_CHUNK: usize = 1 << 20;
/// A chunk handed over this soon after it was handed out says the link is fast: the next one is
/// twice as big.
const FAST_FILL: Duration = Duration::from_millis(50);
/// Filled chunks waiting behind the one being written. With the one being filled, three chunks
/// at most exist.
const QUEUED: usize = 1;

/// What the retrieve task and the writing thread share.
#[derive(Default)]
struct Queue {
    /// Filled chunks, in order.
    filled: VecDeque<Vec<u8>>,
    /// Written chunks, to be filled again.
    empty: Vec<Vec<u8>>,
    /// A blocking thread is writing the queue (and holds the writer meanwhile).
    writing: bool,
    /// The writer while no thread holds it (`None` after a write panicked).
    writer: Option<FileWriter>,
    /// The first failed write; nothing is written after it.
    failed: Option<FsError>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Told of every change: a chunk written, the thread done.
    changed: Notify,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while the lock was held cannot leave the queue half-changed: every change
        // under it is a single push, pop or assignment.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`FileWriter`] fed chunk by chunk from an async task, written on a borrowed blocking thread.
pub struct Spool {
    shared: Arc<Shared>,
    /// The size of the next chunk handed out.
    size: usize,
    /// When the chunk being filled was handed out.
    handed_out: Instant,
}

impl Spool {
    pub fn start(writer: FileWriter) -> Spool {
        Spool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    writer: Some(writer),
                    ..Queue::default()
                }),
                changed: Notify::new(),
            }),
            size: FIRST_CHUNK,
            handed_out: Instant::now(),
        }
    }

    /// An empty chunk to fill (its length is how much to fill, at most), or `None` once a write
    /// has failed.
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut chunk = {
            let mut queue = self.shared.queue();
            if queue.failed.is_some() {
                return None;
            }
            queue.empty.pop().unwrap_or_default()
        };
        chunk.resize(self.size, 0);
        self.handed_out = Instant::now();
        Some(chunk)
    }

    /// Hands over the first `len` bytes of `chunk` for writing, waiting while the queue is
    /// full. `false` once a write has failed.
    pub async fn write(&mut self, mut chunk: Vec<u8>, len: usize) -> bool {
        if len >= chunk.len() / 2 && self.handed_out.elapsed() < FAST_FILL {
            self.size = (self.size * 2).min(LARGEST_CHUNK);
        }
        chunk.truncate(len);
        loop {
            let mut changed = pin!(self.shared.changed.notified());
            // Registered before the queue is looked at, so no change between the two is missed.
            changed.as_mut().enable();
            {
                let mut queue = self.shared.queue();
                if queue.failed.is_some() {
                    return false;
                }
                if queue.filled.len() < QUEUED || !queue.writing {
                    queue.filled.push_back(chunk);
                    if !queue.writing {
                        queue.writing = true;
                        let shared = Arc::clone(&self.shared);
                        tokio::task::spawn_blocking(move || write_queue(&shared));
                    }
                    return true;
                }
            }
            changed.await;
        }
    }

    /// Waits until every chunk handed over is written. Returns the writer (`None` only if a
    /// write panicked) and the first failed write.
    pub async fn finish(self) -> (Option<FileWriter>, Result<(), FsError>) {
        loop {
            let mut changed = pin!(self.shared.changed.notified());
            changed.as_mut().enable();
            {
                let mut queue = self.shared.queue();
                if !queue.writing {
                    let result = match queue.failed.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                    return (queue.writer.take(), result);
                }
            }
            changed.await;
        }
    }
}

/// The blocking thread's work: writes the queued chunks in order until the queue is empty or a
/// write fails, then gives the writer back and ends, returning the thread to the pool.
fn write_queue(shared: &Shared) {
    let Some(mut writer) = shared.queue().writer.take() else {
        return end_writing(shared, None, None);
    };
    loop {
        let chunk = {
            let mut queue = shared.queue();
            match queue.filled.pop_front() {
                Some(chunk) => chunk,
                None => {
                    // Under the same lock as the look at the queue: a chunk queued after it
                    // sees `writing` false and starts a new thread.
                    queue.writer = Some(writer);
                    queue.writing = false;
                    drop(queue);
                    shared.changed.notify_waiters();
                    return;
                }
            }
        };
        // There is room in the queue again: a retrieve waiting to hand over its next chunk
        // may, while this one is written.
        shared.changed.notify_waiters();
        // A panic in a write must not leave the retrieve task waiting for ever.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| writer.write_what_fits(&chunk)));
        shared.queue().empty.push(chunk);
        match result {
            Ok(Ok(())) => shared.changed.notify_waiters(),
            Ok(Err(e)) => return end_writing(shared, Some(writer), Some(e)),
            Err(_) => {
                let panicked = FsError::Io(std::io::Error::other("a file system write panicked"));
                return end_writing(shared, None, Some(panicked));
            }
        }
    }
}

/// Gives the writer back, records a failure (dropping what was still queued) and says so.
fn end_writing(shared: &Shared, writer: Option<FileWriter>, failed: Option<FsError>) {
    {
        let mut queue = shared.queue();
        queue.writer = writer;
        if let Some(e) = failed {
            queue.filled.clear();
            queue.failed.get_or_insert(e);
        }
        queue.writing = false;
    }
    shared.changed.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::ModuleFs;

    /// Fills chunks from `data`, `per_chunk` bytes at most at a time, pausing `pause` before each.
    async fn feed(spool: &mut Spool, data: &[u8], per_chunk: usize, pause: Duration) -> bool {
        let mut at = 0;
        while at < data.len() {
            let Some(mut chunk) = spool.chunk() else {
                return false;
            };
            tokio::time::sleep(pause).await;
            let n = chunk.len().min(per_chunk).min(data.len() - at);
            chunk[..n].copy_from_slice(&data[at..at + n]);
            at += n;
            if !spool.write(chunk, n).await {
                return false;
            }
        }
        true
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_byte_in_order_while_chunks_grow() {
        let fs = ModuleFs::temporary(64 << 20).unwrap();
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut spool = Spool::start(fs.create_writer("f", false).unwrap());
        assert!(feed(&mut spool, &data, usize::MAX, Duration::ZERO).await);
        assert_eq!(spool.size, LARGEST_CHUNK);
        let (writer, result) = spool.finish().await;
        result.unwrap();
        assert_eq!(writer.unwrap().written(), data.len() as u64);
        assert!(fs.read("f").unwrap() == data);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_download_keeps_small_chunks_and_no_thread_between_them() {
        let fs = ModuleFs::temporary(1 << 20).unwrap();
        let data = vec![7u8; 3 * FIRST_CHUNK];
        let mut spool = Spool::start(fs.create_writer("f", false).unwrap());
        assert!(feed(&mut spool, &data, FIRST_CHUNK, FAST_FILL * 2).await);
        assert_eq!(spool.size, FIRST_CHUNK);
        // Between chunks the thread goes back to the pool.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!spool.shared.queue().writing);
        let (_, result) = spool.finish().await;
        result.unwrap();
        assert_eq!(fs.read("f").unwrap().len(), data.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_file_system_stops_the_spool_and_says_so() {
        let fs = ModuleFs::temporary(100_000).unwrap();
        let data = vec![1u8; 1_000_000];
        let mut spool = Spool::start(fs.create_writer("f", false).unwrap());
        assert!(!feed(&mut spool, &data, usize::MAX, Duration::ZERO).await);
        assert!(spool.chunk().is_none());
        let (writer, result) = spool.finish().await;
        assert!(matches!(result, Err(FsError::NotEnoughSpace)), "{result:?}");
        // What fitted is kept.
        assert_eq!(writer.unwrap().written(), 100_000);
    }
}
