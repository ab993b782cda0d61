//! The FTP service's part of the module state.

use std::sync::Arc;

use ftp_client::FtpSession;
use tokio::sync::{Mutex as AsyncMutex, watch};

use crate::services::ftp::profile::Profile;
use crate::services::toolkit::slot::ServiceSlot;

/// The FTP service's part of the module state.
#[derive(Default)]
pub struct FtpState {
    pub profile: Profile,
    /// The logged-in session, shared with the operation that is using it.
    pub(crate) session: Option<Arc<AsyncMutex<FtpSession>>>,
    /// The operation in progress and the last error (`+UFTPER`).
    pub(crate) slot: ServiceSlot,
    /// Set to suspend a running FOTA download (`AT+UFTPC=100,...,0`).
    pub(crate) fota_suspend: Option<watch::Sender<bool>>,
    /// The remote file of a FOTA download that started and did not complete (suspended, cut,
    /// failed): the one `AT+UFTPC=100,<file>,1` may resume.
    pub(crate) fota_interrupted: Option<String>,
}

impl std::fmt::Debug for FtpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpState")
            .field("profile", &self.profile)
            .field("logged_in", &self.session.is_some())
            .field("busy", &self.slot.busy())
            .field("last_error", &self.slot.last_error())
            .finish()
    }
}

impl FtpState {
    /// A reboot: the running operation is abandoned, the session gone, the profile factory.
    pub(crate) fn power_cycle(&mut self) {
        self.slot.power_cycle();
        self.session = None;
        self.profile = Profile::default();
        self.fota_suspend = None;
    }

    /// `+UFTPER`.
    pub fn last_error(&self) -> (u32, u32) {
        self.slot.last_error()
    }
}
