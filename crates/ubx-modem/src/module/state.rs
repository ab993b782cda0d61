//! The module's state and what a command family sees of it: [`State`] (every family's part,
//! behind one lock), [`Shared`] (the module: its model, field, file system, resolver and the
//! terminals' URC sinks) and [`Ctx`] (one command's view).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::families::dns::resolver::Dns;
use crate::families::fs::state::FsState;
use crate::families::general::state::GeneralState;
use crate::families::network::state::NetworkState;
use crate::families::pdp::state::PdpState;
use crate::families::power::state::PowerState;
use crate::families::psd::state::PsdState;
use crate::families::security::state::SecurityState;
use crate::families::sim::state::SimState;
use crate::module::data_link;
pub use crate::module::ids::TerminalId;
use crate::module::model::Model;
use crate::services::ftp::state::FtpState;
use crate::services::http::state::HttpState;
use crate::services::mqtt::state::MqttState;
use crate::services::socket::state::SocketState;
use crate::services::toolkit::arbiter::Arbiter;
use crate::services::toolkit::route::Routes;

/// The mutable state of the module, behind one lock. Commands hold it only while they run,
/// which is never longer than a few microseconds: nothing blocks inside.
#[derive(Debug)]
pub struct State {
    pub general: GeneralState,
    pub sim: SimState,
    pub network: NetworkState,
    pub power: PowerState,
    pub security: SecurityState,
    pub pdp: PdpState,
    pub psd: PsdState,
    pub fs: FsState,
    pub ftp: FtpState,
    pub socket: SocketState,
    pub http: HttpState,
    pub mqtt: MqttState,
}

/// Whether the module is powered (a `module reboot` fault takes it away for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    On,
    /// Rebooting: the terminals are silent.
    Off,
}

pub struct Shared {
    pub model: &'static Model,
    pub field: Arc<ubx_field::Field>,
    /// Every terminal's driver watches it.
    pub power: tokio::sync::watch::Sender<Power>,
    pub imei: String,
    pub state: Mutex<State>,
    pub fs: ubx_storage::fs::ModuleFs,
    pub dns: Dns,
    pub listing_cap: usize,
    /// The module's one direct link, across every service.
    pub direct_links: Arbiter,
    /// `--route` rules, applied to every connection the module opens.
    pub routes: Routes,
    /// `--egress` rules, checked for every connection the module opens.
    pub egress: crate::services::toolkit::egress::Egress,
    /// Where listening sockets (`+USOLI`) bind: loopback unless asked otherwise.
    pub listen_addr: std::net::IpAddr,
    pub(crate) urc_sinks: Mutex<HashMap<TerminalId, mpsc::UnboundedSender<Vec<u8>>>>,
    pub(crate) next_terminal: AtomicU64,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; the state stays usable either way.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a URC to every terminal (the greeting after a reboot).
    pub fn broadcast(&self, text: impl Into<Vec<u8>>) {
        let text = text.into();
        let sinks = self.urc_sinks.lock().unwrap_or_else(|e| e.into_inner());
        for tx in sinks.values() {
            let _ = tx.send(text.clone());
        }
    }

    /// Sends a URC to one terminal; dropped silently if that terminal has gone away.
    pub fn urc(&self, terminal: TerminalId, text: impl Into<Vec<u8>>) {
        let sinks = self.urc_sinks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = sinks.get(&terminal) {
            let _ = tx.send(text.into());
        }
    }
}

/// What a command family sees of the module while executing one command.
pub struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub terminal: TerminalId,
    /// Where a command that goes on line leaves its data link.
    pub link: Cell<Option<data_link::LinkPort>>,
    /// Where `AT+IPR=<rate>` leaves the rate this terminal changes to after its `OK`.
    pub baud: Cell<Option<u32>>,
    /// The terminal's own settings (echo, result codes, `&C`/`&D`/`&K`, S-registers), as
    /// `AT&V` shows them.
    pub settings: ubx_at::Settings,
}
