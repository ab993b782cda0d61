//! `AT+UFTPC=4` and `AT+UFTPC=100`: RETR into the module file system or the hidden FOTA area.
//!
//! The download is read on this task and written by a [`Spool`], chunk by chunk on blocking
//! threads, so the socket and the disk work side by side. What arrived before a failure, a suspend or a full
//! file system is kept: a resume (`<retrieving_mode>` 1, or `AT+UFTPC=100,<file>,1`) continues
//! from the size on disk with `REST`.

use std::sync::Arc;

use ftp_client::FtpSession;
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex as AsyncMutex, watch};

use super::errors::FtpFailure;
use super::operations::{Done, failed};
use super::spool::Spool;
use crate::fs::storage::FsError;
use crate::{Shared, TerminalId};

/// Where a retrieve writes.
pub(super) enum Target {
    /// A module file; `resume` continues after the bytes already in it.
    File { name: String, resume: bool },
    /// The hidden FOTA area; progress URCs go to `terminal`.
    Fota { resume: bool, terminal: TerminalId },
}

pub(super) fn fs_failure(e: &FsError) -> FtpFailure {
    match e {
        FsError::NotEnoughSpace => FtpFailure::FileSystemFull,
        _ => FtpFailure::LocalFile,
    }
}

/// `+UUFTPCR: 100,<stored> / <total>` each time another 5 % (at least 64 KiB) of a FOTA image
/// has arrived (docs/FIDELITY.md); the final one is sent when the download completes.
struct FotaProgress {
    terminal: TerminalId,
    total: u64,
    step: u64,
    next: u64,
}

impl FotaProgress {
    fn new(terminal: TerminalId, offset: u64, total: u64) -> Self {
        let step = (total / 20).max(64 * 1024);
        FotaProgress {
            terminal,
            total,
            step,
            next: offset + step,
        }
    }

    /// `stored` bytes of the image have arrived.
    fn received(&mut self, shared: &Shared, stored: u64) {
        if stored >= self.next && stored < self.total {
            shared.urc(
                self.terminal,
                format!("+UUFTPCR: 100,{stored} / {}", self.total),
            );
            self.next = stored - stored % self.step + self.step;
        }
    }
}

/// Why a retrieve's receive loop ended.
enum Stop {
    /// The server closed the data connection: the whole file (or what the server sends) arrived.
    End,
    /// `AT+UFTPC=100,...,0` (or `AT+UFTP=30,0`) asked to stop.
    Suspended,
    /// The spool stopped on a failed write; [`Spool::finish`] says why.
    Disk,
    /// Receiving failed.
    Network(std::io::Error),
}

/// RETR into the module file system or the FOTA area, with REST when resuming.
pub(super) async fn retrieve(
    shared: &Arc<Shared>,
    session: &Arc<AsyncMutex<FtpSession>>,
    remote: &str,
    target: Target,
    mut suspend: Option<watch::Receiver<bool>>,
) -> Result<Done, FtpFailure> {
    let fs = &shared.fs;
    let offset = match &target {
        Target::File { name, resume: true } => fs.size(name).unwrap_or(0),
        Target::File { resume: false, .. } => 0,
        Target::Fota { resume: true, .. } => fs.fota_size().map_err(|e| fs_failure(&e))?,
        Target::Fota { resume: false, .. } => 0,
    };
    let mut s = session.lock().await;
    // FOTA progress needs the image's size.
    let total = match &target {
        Target::Fota { .. } => match s.size(remote).await {
            Ok(n) => Some(n),
            Err(e) => return Err(failed(shared, session, e)),
        },
        Target::File { .. } => None,
    };
    // Stopping a download early (suspend, full file system) goes through `finish`, which sends
    // ABOR and reads the server's replies, so the session stays usable for a resume.
    // Open the download before touching the local file, so a refused RETR leaves it as it was.
    let mut download = match s.retrieve(remote, offset).await {
        Ok(d) => d,
        Err(e) => return Err(failed(shared, session, e)),
    };
    // A file this retrieve creates is removed again if nothing arrives (e.g. `150` then `550`).
    let created = matches!(&target, Target::File { name, .. } if !fs.exists(name));
    let writer = match &target {
        Target::File { name, resume } => fs.create_writer(name, *resume),
        Target::Fota { resume, .. } => fs.fota_writer(*resume),
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(fs_failure(&e));
        }
    };
    let mut progress = match (&target, total) {
        (Target::Fota { terminal, .. }, Some(total)) => {
            Some(FotaProgress::new(*terminal, offset, total))
        }
        _ => None,
    };
    if let Target::Fota { .. } = &target {
        // From here on the FOTA area holds (the start of) this file: the one a resume may
        // continue.
        shared.state().ftp.fota_interrupted = Some(remote.to_string());
    }
    let mut spool = Spool::start(writer);
    let stop = loop {
        let Some(mut chunk) = spool.chunk() else {
            break Stop::Disk;
        };
        // Fill at least half a chunk before handing it over (a read returns what the socket or
        // one TLS record holds, often far less).
        let mut filled = 0;
        let mut stop = None;
        while filled < chunk.len() / 2 {
            let read = match suspend.as_mut() {
                Some(rx) => tokio::select! {
                    r = download.read(&mut chunk[filled..]) => r,
                    _ = rx.wait_for(|s| *s) => {
                        stop = Some(Stop::Suspended);
                        break;
                    }
                },
                None => download.read(&mut chunk[filled..]).await,
            };
            match read {
                Ok(0) => {
                    stop = Some(Stop::End);
                    break;
                }
                Ok(n) => filled += n,
                Err(e) => {
                    stop = Some(Stop::Network(e));
                    break;
                }
            }
            if let Some(progress) = progress.as_mut() {
                progress.received(shared, offset + download.bytes());
            }
        }
        // What arrived before the end, a suspend or a broken connection is kept: a resume
        // continues from the size on disk.
        if filled > 0 && !spool.write(chunk, filled).await {
            break Stop::Disk;
        }
        if let Some(stop) = stop {
            break stop;
        }
    };
    // Everything received is on disk (or the disk refused it) before anyone looks at the file.
    let (writer, written) = spool.finish().await;
    let cleanup = || {
        let nothing_written = writer.as_ref().is_some_and(|w| w.written() == 0);
        if let (true, true, Target::File { name, .. }) = (created, nothing_written, &target) {
            let _ = fs.delete(name);
        }
    };
    match (stop, written) {
        (Stop::Network(e), _) => {
            let e = download.fail(e).await;
            cleanup();
            return Err(failed(shared, session, e));
        }
        (Stop::Suspended, _) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(FtpFailure::Suspended);
        }
        (_, Err(e)) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(fs_failure(&e));
        }
        (Stop::Disk, Ok(())) => {
            // Not reached: the spool stops early only on a failed write (or a panic), and
            // `finish` reports both as an error, handled above.
            let _ = download.finish().await;
            return Err(FtpFailure::LocalFile);
        }
        (Stop::End, Ok(())) => {
            if let Err(e) = download.finish().await {
                cleanup();
                return Err(failed(shared, session, e));
            }
        }
    }
    drop(s);
    match target {
        Target::File { .. } => Ok(Done::Plain),
        Target::Fota { terminal, .. } => {
            let stored = fs.fota_size().map_err(|e| fs_failure(&e))?;
            shared.urc(
                terminal,
                format!("+UUFTPCR: 100,{stored} / {}", total.unwrap_or(stored)),
            );
            let md5 = fs
                .fota_md5_hex()
                .map_err(|e| fs_failure(&e))?
                .unwrap_or_default();
            Ok(Done::Fota(md5))
        }
    }
}
