//! `AT+UFTPC=100`: a FOTA download into the hidden area of the module file system, with
//! progress URCs, suspend (`,0`), resume (`,1`) and the image's MD5 at the end.

use std::sync::Arc;

use tokio::sync::watch;

use crate::module::ids::TerminalId;
use crate::module::state::Shared;
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::op::Done;
use crate::services::ftp::retrieve::{Progress, Sink, retrieve};
use crate::services::ftp::session::{Session, failed};

/// `+UUFTPCR: 100,<stored> / <total>` each time another 5 % (at least 64 KiB) of a FOTA image
/// has arrived (docs/FIDELITY.md); the final one is sent when the download completes.
struct FotaProgress {
    terminal: TerminalId,
    remote: String,
    total: u64,
    step: u64,
    next: u64,
}

impl FotaProgress {
    fn new(terminal: TerminalId, remote: &str, offset: u64, total: u64) -> Self {
        let step = (total / 20).max(64 * 1024);
        FotaProgress {
            terminal,
            remote: remote.to_string(),
            total,
            step,
            next: offset + step,
        }
    }
}

impl Progress for FotaProgress {
    fn started(&mut self, shared: &Shared) {
        // From here on the FOTA area holds (the start of) this file: the one a resume may
        // continue.
        shared.state().ftp.fota_interrupted = Some(self.remote.clone());
    }

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

/// `AT+UFTPC=100,<file>[,1]`: the image into the FOTA area, progress to `terminal`.
pub(crate) async fn download(
    shared: &Arc<Shared>,
    session: &Session,
    remote: &str,
    resume: bool,
    terminal: TerminalId,
    suspend: Option<watch::Receiver<bool>>,
) -> Result<Done, FtpFailure> {
    // Resuming appends to the image in the FOTA area, which is only right if that image is the
    // start of the same remote file (`FotaProgress::started` records which).
    if resume && shared.state().ftp.fota_interrupted.as_deref() != Some(remote) {
        return Err(FtpFailure::NothingToResume);
    }
    let fs = &shared.fs;
    let offset = if resume {
        fs.fota_partial_size()
            .map_err(|e| FtpFailure::from_fs(&e))?
    } else {
        0
    };
    let mut s = session.lock().await;
    // Progress needs the image's size.
    let total = s
        .size(remote)
        .await
        .map_err(|e| failed(shared, session, e))?;
    let mut progress = FotaProgress::new(terminal, remote, offset, total);
    let sink = Sink::Fota { resume };
    retrieve(
        shared,
        session,
        &mut s,
        remote,
        sink,
        suspend,
        &mut progress,
    )
    .await?;
    drop(s);
    let stored = fs.fota_size().map_err(|e| FtpFailure::from_fs(&e))?;
    shared.urc(terminal, format!("+UUFTPCR: 100,{stored} / {total}"));
    let md5 = fs
        .fota_md5_hex()
        .map_err(|e| FtpFailure::from_fs(&e))?
        .unwrap_or_default();
    shared.state().ftp.fota_interrupted = None;
    Ok(Done::Fota(md5))
}
