//! `AT+UFTPC=4` (and the download of `AT+UFTPC=100`, [`super::fota`]): RETR into the module
//! file system or the hidden FOTA area.
//!
//! The download is read on this task and written by the toolkit's spool, chunk by chunk on
//! blocking threads, so the socket and the disk work side by side. It goes into a hidden partial
//! beside the name, which becomes the file only when the whole file is in
//! ([`FileWriter::commit`]): until then the name keeps its old file, or nothing, whatever cuts the
//! download (a failure, a suspend, a full file system, a reboot, `kill -9`). What arrived stays
//! in the partial: a resume (`<retrieving_mode>` 1, or `AT+UFTPC=100,<file>,1`) continues from
//! its size with `REST`.

use std::sync::Arc;

use ftp_client::{Download, FtpSession};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use ubx_storage::fs::{FileWriter, FsError, Leftover, ModuleFs};

use crate::module::state::Shared;
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::op::Done;
use crate::services::ftp::session::{Session, failed};
use crate::services::toolkit::spool::Spool;

/// Where a retrieve writes.
pub(crate) enum Sink {
    /// A module file; `resume` continues after the bytes already in it.
    File { name: String, resume: bool },
    /// The hidden FOTA area.
    Fota { resume: bool },
}

impl Sink {
    /// Where the download starts: after what a resume already has.
    fn offset(&self, fs: &ModuleFs) -> Result<u64, FtpFailure> {
        match self {
            Sink::File { name, resume: true } => fs.resume_offset(name),
            Sink::Fota { resume: true } => fs.fota_partial_size(),
            Sink::File { resume: false, .. } | Sink::Fota { resume: false } => Ok(0),
        }
        .map_err(|e| FtpFailure::from_fs(&e))
    }

    fn writer(&self, fs: &ModuleFs) -> Result<FileWriter, FsError> {
        match self {
            Sink::File { name, resume } => fs.staged_writer(name, Leftover::Resumable, *resume),
            Sink::Fota { resume } => fs.fota_writer(*resume),
        }
    }
}

/// What a retrieve tells its caller as it goes.
pub(crate) trait Progress: Send {
    /// The server accepted the RETR and the sink is open.
    fn started(&mut self, _shared: &Shared) {}
    /// `stored` bytes of the file are in.
    fn received(&mut self, _shared: &Shared, _stored: u64) {}
}

impl Progress for () {}

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

/// `AT+UFTPC=4`: RETR into a module file.
pub(crate) async fn retrieve_file(
    shared: &Arc<Shared>,
    session: &Session,
    remote: &str,
    local: &str,
    resume: bool,
) -> Result<Done, FtpFailure> {
    let mut s = session.lock().await;
    let sink = Sink::File {
        name: local.to_string(),
        resume,
    };
    retrieve(shared, session, &mut s, remote, sink, None, &mut ()).await?;
    Ok(Done::Plain)
}

/// RETR into `sink`, with REST when resuming, on the locked session `s`.
pub(crate) async fn retrieve(
    shared: &Arc<Shared>,
    session: &Session,
    s: &mut FtpSession,
    remote: &str,
    sink: Sink,
    suspend: Option<watch::Receiver<bool>>,
    progress: &mut (dyn Progress + Send),
) -> Result<(), FtpFailure> {
    let fs = &shared.fs;
    let offset = sink.offset(fs)?;
    if offset > 0 {
        beyond_the_end(shared, session, s, remote, offset).await?;
    }
    // Stopping a download early (suspend, full file system) goes through `finish`, which sends
    // ABOR and reads the server's replies, so the session stays usable for a resume.
    // Open the download before touching the local file, so a refused RETR leaves it as it was.
    let mut download = match s.retrieve(remote, offset).await {
        Ok(d) => d,
        Err(e) => return Err(failed(shared, session, e)),
    };
    let writer = match sink.writer(fs) {
        Ok(w) => w,
        Err(e) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(FtpFailure::from_fs(&e));
        }
    };
    progress.started(shared);
    let mut spool = Spool::start(writer);
    let stop = receive(shared, &mut download, &mut spool, suspend, progress, offset).await;
    // Everything received is on disk (or the disk refused it) before anyone looks at the file.
    let (writer, written) = spool.finish().await;
    // Cut short: what arrived stays in the hidden partial for a resume, unless nothing did.
    let keep = |writer: Option<FileWriter>| match writer {
        Some(w) if w.written() == 0 && offset == 0 => w.discard(),
        _ => {}
    };
    match (stop, written) {
        (Stop::Network(e), _) => {
            let e = download.fail(e).await;
            keep(writer);
            Err(failed(shared, session, e))
        }
        (Stop::Suspended, _) => {
            let _ = download.finish().await; // before the end: ABOR
            keep(writer);
            Err(FtpFailure::Suspended)
        }
        (_, Err(e)) => {
            let _ = download.finish().await; // before the end: ABOR
            keep(writer);
            Err(FtpFailure::from_fs(&e))
        }
        (Stop::Disk, Ok(())) => {
            // Not reached: the spool stops early only on a failed write (or a panic), and
            // `finish` reports both as an error, handled above.
            let _ = download.finish().await;
            keep(writer);
            Err(FtpFailure::LocalFile)
        }
        (Stop::End, Ok(())) => match download.finish().await {
            Err(e) => {
                keep(writer);
                Err(failed(shared, session, e))
            }
            Ok(_) => match writer {
                Some(w) => w.commit().map_err(|e| FtpFailure::from_fs(&e)),
                None => Err(FtpFailure::LocalFile),
            },
        },
    }
}

/// A resume from beyond the end of the remote file would append nothing and report success
/// over a local file that is not the remote one: refused, with the local bytes left as they are.
/// A server without `SIZE` is trusted.
async fn beyond_the_end(
    shared: &Arc<Shared>,
    session: &Session,
    s: &mut FtpSession,
    remote: &str,
    offset: u64,
) -> Result<(), FtpFailure> {
    match s.size(remote).await {
        Ok(size) if offset > size => Err(FtpFailure::ResumeBeyondEnd),
        Ok(_) => Ok(()),
        Err(e) if e.reply_code().is_some() => Ok(()),
        Err(e) => Err(failed(shared, session, e)),
    }
}

/// Moves the download into the spool until the end, a suspend, or a failure.
async fn receive(
    shared: &Shared,
    download: &mut Download<'_>,
    spool: &mut Spool,
    mut suspend: Option<watch::Receiver<bool>>,
    progress: &mut (dyn Progress + Send),
    offset: u64,
) -> Stop {
    loop {
        let Some(mut chunk) = spool.chunk() else {
            return Stop::Disk;
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
            progress.received(shared, offset + download.bytes());
        }
        // What arrived before the end, a suspend or a broken connection is kept: a resume
        // continues from the size on disk.
        if filled > 0 && !spool.write(chunk, filled).await {
            return Stop::Disk;
        }
        if let Some(stop) = stop {
            return stop;
        }
    }
}
