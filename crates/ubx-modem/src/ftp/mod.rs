//! The FTP service: `+UFTP` (the profile), `+UFTPC` (operations), `+UFTPER` (last error), and
//! the URCs `+UUFTPCR` / `+UUFTPCD`.
//!
//! `AT+UFTPC=...` is checked at once — op code, parameter types and lengths, whether another
//! operation is running — and answered `OK`; the FTP work then runs in a background task on the
//! shared FTP session ([`operations`]) and reports to the terminal that asked:
//! `+UUFTPCD: <op>,<len>,"<raw bytes>"` for listings, then `+UUFTPCR: <op>,<1|0>`. Every terminal
//! keeps answering meanwhile, because nothing here blocks a command. A failure is recorded for
//! `+UFTPER` in the classes of [`errors`].

mod direct_link;
pub mod errors;
pub mod operations;
pub mod profile;
mod retrieve;
mod spool;
mod store;
pub mod triggers;

use std::sync::Arc;

use ftp_client::FtpSession;
use tokio::sync::{Mutex as AsyncMutex, watch};
use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Response};

use crate::Ctx;
use errors::FtpFailure;
use profile::{Profile, ProfileEffect};

/// Default cap on one listing (`+UUFTPCD` of op 13/14); see docs/FIDELITY.md.
pub const DEFAULT_LISTING_CAP: usize = 64 * 1024;

/// The FTP service's part of the module state.
#[derive(Default)]
pub struct FtpState {
    pub profile: Profile,
    /// The logged-in session, shared with the operation that is using it.
    pub(crate) session: Option<Arc<AsyncMutex<FtpSession>>>,
    /// The op code of the operation in progress.
    pub(crate) busy: Option<i64>,
    /// `+UFTPER`: (class, code) of the last operation.
    pub(crate) last_error: (u32, u32),
    /// Set to suspend a running FOTA download (`AT+UFTPC=100,...,0`).
    pub(crate) fota_suspend: Option<watch::Sender<bool>>,
    /// The remote file of a FOTA download that started and did not complete (suspended, cut,
    /// failed): the one `AT+UFTPC=100,<file>,1` may resume.
    pub(crate) fota_interrupted: Option<String>,
    /// The task of the operation in progress, so a reboot can abandon it.
    pub(crate) task: Option<tokio::task::AbortHandle>,
    /// The module file a running retrieve writes, so a reboot removes what it half wrote.
    pub(crate) writing: Option<String>,
}

impl std::fmt::Debug for FtpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpState")
            .field("profile", &self.profile)
            .field("logged_in", &self.session.is_some())
            .field("busy", &self.busy)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl FtpState {
    /// Claims the service for `op`: one FTP operation at a time, and so one direct link per
    /// module, whichever terminal asks.
    pub(crate) fn claim(&mut self, op: i64) -> Result<(), CommandError> {
        if self.busy.is_some() {
            self.record(Err(FtpFailure::Busy));
            return Err(busy_error());
        }
        self.busy = Some(op);
        Ok(())
    }

    /// A reboot: the running operation is abandoned, the session gone, the profile factory.
    pub(crate) fn power_cycle(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.session = None;
        self.busy = None;
        self.profile = Profile::default();
        self.last_error = (0, 0);
        self.fota_suspend = None;
    }

    pub(crate) fn record(&mut self, outcome: Result<(), FtpFailure>) {
        self.last_error = match outcome {
            Ok(()) => (0, 0),
            Err(f) => f.class_code(),
        };
    }
}

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let reply = match cmd.name.as_str() {
        "+UFTP" => uftp(ctx, &cmd.kind),
        "+UFTPC" => return Some(operations::uftpc(ctx, &cmd.kind)),
        "+UFTPER" => match cmd.kind {
            CommandKind::Action => {
                let (class, code) = ctx.shared.state().ftp.last_error;
                Ok(Response::line(format!("+UFTPER: {class},{code}")))
            }
            CommandKind::Test => Ok(Response::ok()),
            _ => Err(CommandError::Syntax),
        },
        _ => return None,
    };
    Some(reply.into())
}

fn uftp(ctx: &Ctx, kind: &CommandKind) -> Result<Response, CommandError> {
    let model = ctx.shared.model;
    match kind {
        CommandKind::Test => Ok(Response::line(model.ftp.uftp_test.as_str())),
        CommandKind::Read => Ok(ctx.shared.state().ftp.profile.read(ctx.shared.model)),
        CommandKind::Set(p) => {
            let mut state = ctx.shared.state();
            let max_cid = state.pdp.max_cid;
            let effect = state.ftp.profile.set(p, model, max_cid)?;
            if effect == ProfileEffect::Release {
                state.ftp.profile = Profile::default();
                if let Some(suspend) = state.ftp.fota_suspend.take() {
                    let _ = suspend.send(true);
                }
                if let Some(session) = state.ftp.session.take() {
                    drop(state);
                    tokio::spawn(operations::close_session(session));
                }
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}

/// The error for a +UFTPC while another operation is running.
pub(crate) fn busy_error() -> CommandError {
    CmeError::OperationNotAllowed.into()
}
