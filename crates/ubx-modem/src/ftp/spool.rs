//! Writing a download into the module file system on a thread of its own.
//!
//! A retrieve receives from the network (and decrypts, over FTPS) and writes to disk. Done in
//! turn on one task, each waits for the other; with the disk writes on a blocking thread, the
//! write of one chunk overlaps the reception of the next, and the runtime's threads never wait
//! for the disk. Chunks are large (1 MiB) and recycled, so the steady state allocates nothing.
//!
//! ```text
//!   retrieve task ──filled chunk──▶ spool thread ──▶ FileWriter::write_what_fits
//!        ▲                               │
//!        └──────────empty chunk──────────┘
//! ```

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::fs::storage::{FileWriter, FsError};

/// Size of one chunk. Large enough that per-chunk costs (a lock, a `metadata` call, a wake-up)
/// vanish beside the copy; small enough that three of them cost little memory.
pub(crate) const CHUNK: usize = 1 << 20;

/// Chunks in flight: one being filled, one being written, one ready to swap in.
const CHUNKS: usize = 3;

/// A [`FileWriter`] running on a blocking thread, fed chunk by chunk.
pub(crate) struct Spool {
    filled: Option<mpsc::Sender<Vec<u8>>>,
    empty: mpsc::Receiver<Vec<u8>>,
    thread: JoinHandle<(FileWriter, Result<(), FsError>)>,
}

impl Spool {
    /// Starts the thread. It stops at the first failed write; [`Spool::finish`] reports it.
    pub(crate) fn start(mut writer: FileWriter) -> Spool {
        let (filled_tx, mut filled_rx) = mpsc::channel::<Vec<u8>>(CHUNKS);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>(CHUNKS);
        for _ in 0..CHUNKS {
            // Cannot fail: the channel holds CHUNKS and no more chunks than that ever exist.
            let _ = empty_tx.try_send(Vec::with_capacity(CHUNK));
        }
        let thread = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = filled_rx.blocking_recv() {
                if let Err(e) = writer.write_what_fits(&chunk) {
                    return (writer, Err(e));
                }
                let _ = empty_tx.try_send(chunk);
            }
            (writer, Ok(()))
        });
        Spool {
            filled: Some(filled_tx),
            empty: empty_rx,
            thread,
        }
    }

    /// An empty chunk of [`CHUNK`] bytes to fill, or `None` once the thread has stopped on a
    /// failed write.
    pub(crate) async fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut chunk = self.empty.recv().await?;
        chunk.resize(CHUNK, 0);
        Some(chunk)
    }

    /// Hands over the first `len` bytes of `chunk` for writing. `false` once the thread has
    /// stopped on a failed write.
    pub(crate) async fn write(&mut self, mut chunk: Vec<u8>, len: usize) -> bool {
        chunk.truncate(len);
        match &self.filled {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        }
    }

    /// Waits until every chunk handed over is written. Returns the writer (`None` only if the
    /// thread panicked) and the first failed write.
    pub(crate) async fn finish(mut self) -> (Option<FileWriter>, Result<(), FsError>) {
        self.filled = None;
        match self.thread.await {
            Ok((writer, result)) => (Some(writer), result),
            Err(e) => (None, Err(FsError::Io(std::io::Error::other(e.to_string())))),
        }
    }
}
