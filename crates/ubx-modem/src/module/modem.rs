//! The module as its users build and hold it: [`ModemConfig`], [`Modem`] and its terminals.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::families::{dns, fs, general, network, pdp, power, psd, security, sim};
use crate::module::field_actions;
use crate::module::handler::ModemHandler;
use crate::module::model::{self, Model};
use crate::module::state::{Power, Shared, State, TerminalId};
use crate::services::ftp;
use crate::services::ftp::state::FtpState;
use crate::services::http::state::HttpState;
use crate::services::mqtt::state::MqttState;
use crate::services::socket::state::SocketState;
use crate::services::toolkit::route::Routes;

/// How to build a module.
#[derive(Debug, Clone)]
pub struct ModemConfig {
    pub model: &'static Model,
    /// The module file system's folder; `None` for a fresh temporary folder removed at exit.
    pub fs_dir: Option<PathBuf>,
    /// Capacity of the module file system in bytes.
    pub fs_size: u64,
    /// Create `fs_dir` only when a file is first used (a fleet's modules).
    pub fs_lazy: bool,
    /// `--dns NAME=ADDR` overrides, consulted before the host resolver.
    pub dns_overrides: Vec<(String, IpAddr)>,
    /// `+CGSN`; `None` for the model's type allocation code with serial number 012345.
    pub imei: Option<String>,
    /// Longest listing (`AT+UFTPC=13/14`) handed over in one `+UUFTPCD`; longer ones are cut.
    pub ftp_listing_cap: usize,
    /// The radio link, the seed and the faults set from the start.
    pub field: ubx_field::FieldConfig,
    /// The rate `AT+IPR?` shows at start (`--baud`); 115200 when `None`.
    pub ipr: Option<u32>,
    /// `--route` rules: every connection the module opens to a matching address goes to the
    /// rule's target.
    pub routes: Routes,
    /// `--egress` rules: where the module may connect (after `--route`); none, anywhere.
    pub egress: crate::services::toolkit::egress::Egress,
    /// Where `+USOLI` listens: 127.0.0.1 unless `--socket-listen` says otherwise.
    pub listen_addr: IpAddr,
}

/// The serial number in a module's IMEI unless one is given.
pub const DEFAULT_IMEI_SERIAL: u32 = 12345;

/// Default capacity of the module file system (`--fs-size`): see docs/FIDELITY.md.
pub const DEFAULT_FS_SIZE: u64 = ubx_storage::fs::DEFAULT_CAPACITY;

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            model: model::default_model(),
            fs_dir: None,
            fs_lazy: false,
            fs_size: DEFAULT_FS_SIZE,
            dns_overrides: Vec::new(),
            imei: None,
            ftp_listing_cap: ftp::DEFAULT_LISTING_CAP,
            field: ubx_field::FieldConfig::default(),
            ipr: None,
            routes: Routes::default(),
            egress: Default::default(),
            listen_addr: IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// The emulated module. Cheap to clone; all clones are the same module.
#[derive(Clone)]
pub struct Modem {
    shared: Arc<Shared>,
}

/// Why a module could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    #[error("module file system: {0}")]
    FileSystem(#[from] ubx_storage::fs::FsError),
}

impl Modem {
    /// Builds a module: cid 1 is defined and active, as after attach.
    pub fn new(config: ModemConfig) -> Result<Modem, ModemError> {
        let fs = match &config.fs_dir {
            Some(dir) if config.fs_lazy => ubx_storage::fs::ModuleFs::lazy(dir, config.fs_size)?,
            Some(dir) => ubx_storage::fs::ModuleFs::open(dir, config.fs_size)?,
            None => ubx_storage::fs::ModuleFs::temporary(config.fs_size)?,
        }
        .with_name_limit(config.model.file_system.file_name_max);
        let mut general = general::GeneralState::default();
        if let Some(rate) = config.ipr {
            general.ipr = i64::from(rate);
            general.rate = i64::from(rate);
        }
        let state = State {
            general,
            sim: sim::SimState::default(),
            network: network::NetworkState::default(),
            power: power::PowerState::default(),
            security: security::SecurityState::new(config.model),
            pdp: pdp::PdpState::new(config.model),
            psd: psd::PsdState::new(config.model),
            fs: fs::FsState::default(),
            ftp: FtpState::default(),
            socket: SocketState::default(),
            http: HttpState::new(config.model.http.profiles),
            mqtt: MqttState::default(),
        };
        let (field, actions) = ubx_field::Field::new(&config.field);
        let (power, _) = tokio::sync::watch::channel(Power::On);
        let modem = Modem {
            shared: Arc::new(Shared {
                model: config.model,
                field: field.clone(),
                power,
                imei: config
                    .imei
                    .unwrap_or_else(|| config.model.imei(DEFAULT_IMEI_SERIAL)),
                state: Mutex::new(state),
                fs,
                dns: dns::Dns::new(config.dns_overrides, Some(field)),
                listing_cap: config.ftp_listing_cap,
                direct_links: Default::default(),
                routes: config.routes,
                egress: config.egress,
                listen_addr: config.listen_addr,
                urc_sinks: Mutex::new(HashMap::new()),
                next_terminal: AtomicU64::new(1),
            }),
        };
        // The field task fires timed faults and applies module faults; without a runtime (a
        // module built for a synchronous test) there are none to apply.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(field_actions::run(Arc::downgrade(&modem.shared), actions));
            // The signalling connection's inactivity timer (+CSCON).
            runtime.spawn(network::rrc::run(Arc::downgrade(&modem.shared)));
        }
        network::rrc::check(&modem.shared);
        Ok(modem)
    }

    /// The `+CSGT` greeting, if it is shown at power-on.
    pub fn greeting(&self) -> Option<String> {
        let state = self.shared.state();
        let (text, shown) = &state.general.greeting;
        (*shown && !text.is_empty()).then(|| text.clone())
    }

    /// `+UFTPER`: the class and code of the last FTP operation.
    pub fn last_ftp_error(&self) -> (u32, u32) {
        self.shared.state().ftp.last_error()
    }

    /// `+CGSN`.
    pub fn imei(&self) -> String {
        self.shared.imei.clone()
    }

    /// The highest PDP context id of the model (a `pdp` fault's `cid` must name one).
    pub fn max_cid(&self) -> u8 {
        self.shared.model.pdp.max_cid
    }

    /// The module's field conditions: its link and its faults (the control API's handle).
    pub fn field(&self) -> &Arc<ubx_field::Field> {
        &self.shared.field
    }

    /// Watches the module's power (drivers go silent while it reboots).
    pub fn power(&self) -> tokio::sync::watch::Receiver<Power> {
        self.shared.power.subscribe()
    }

    /// What the module is doing, for `GET /state`.
    pub fn snapshot(&self) -> serde_json::Value {
        let state = self.shared.state();
        let contexts: Vec<serde_json::Value> = state
            .pdp
            .contexts
            .iter()
            .map(|(cid, c)| {
                serde_json::json!({
                    "cid": cid,
                    "active": c.active,
                    "apn": c.apn,
                })
            })
            .collect();
        let sinks = self
            .shared
            .urc_sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        serde_json::json!({
            "model": self.shared.model.id,
            "power": format!("{:?}", *self.shared.power.borrow()).to_lowercase(),
            "registered": network::is_registered(&state),
            "contexts": contexts,
            "ftp": {
                "logged_in": state.ftp.session.is_some(),
                "operation": state.ftp.slot.busy(),
                "last_error": [state.ftp.last_error().0, state.ftp.last_error().1],
            },
            "transfer_bytes": self.shared.field.faults.transfer_bytes(),
            "link": self.shared.field.link.spec(),
            "terminals": sinks,
        })
    }

    pub fn model(&self) -> &'static Model {
        self.shared.model
    }

    /// The module file system.
    pub fn filesystem(&self) -> &ubx_storage::fs::ModuleFs {
        &self.shared.fs
    }

    /// Opens one more AT terminal on this module.
    pub fn open_terminal(&self) -> TerminalPort {
        let id = self.shared.next_terminal.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared
            .urc_sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        TerminalPort {
            handler: ModemHandler::new(self.shared.clone(), id),
            urcs: rx,
        }
    }
}

/// One terminal's connection to the module: the command handler and the URCs addressed to it.
pub struct TerminalPort {
    pub handler: ModemHandler,
    pub urcs: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl TerminalPort {
    pub fn id(&self) -> TerminalId {
        self.handler.terminal()
    }
}
