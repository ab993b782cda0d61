//! Moving file data between the module file system and an FTP transfer on a thread of its own:
//! [`Spool`] writes a download, [`ReadAhead`] reads for an upload.
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

use std::io::{self, Read};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::filesystem::{FileWriter, FsError};

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

/// A reader running on a blocking thread, one chunk ahead of the upload: the read of the next
/// chunk from the module file system overlaps the sending of this one.
pub(crate) struct ReadAhead {
    filled: mpsc::Receiver<io::Result<Vec<u8>>>,
    empty: mpsc::Sender<Vec<u8>>,
    /// Taken when the end is reached, to tell a real end from a dead thread.
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts the thread. It stops at the end of the file, at the first read error (delivered
    /// as the last chunk), or when the `ReadAhead` is dropped.
    pub(crate) fn start(mut reader: impl Read + Send + 'static) -> ReadAhead {
        let (filled_tx, filled_rx) = mpsc::channel(CHUNKS);
        let (empty_tx, mut empty_rx) = mpsc::channel::<Vec<u8>>(CHUNKS);
        for _ in 0..CHUNKS {
            let _ = empty_tx.try_send(Vec::with_capacity(CHUNK));
        }
        let thread = tokio::task::spawn_blocking(move || {
            while let Some(mut chunk) = empty_rx.blocking_recv() {
                chunk.resize(CHUNK, 0);
                match fill(&mut reader, &mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        chunk.truncate(n);
                        if filled_tx.blocking_send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = filled_tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
        });
        ReadAhead {
            filled: filled_rx,
            empty: empty_tx,
            thread: Some(thread),
        }
    }

    /// The next chunk of the file, `None` at its end. A thread that died (a panic) without
    /// reaching the end is an error, not an end: a cut upload must not pass for a whole one.
    pub(crate) async fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        match self.filled.recv().await {
            Some(chunk) => Some(chunk),
            None => match self.thread.take()?.await {
                Ok(()) => None,
                Err(e) => Some(Err(io::Error::other(e.to_string()))),
            },
        }
    }

    /// Hands a chunk back for the next read.
    pub(crate) fn recycle(&self, chunk: Vec<u8>) {
        let _ = self.empty.try_send(chunk);
    }
}

/// Reads until `buf` is full or the file ends; the number of bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
