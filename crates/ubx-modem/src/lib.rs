//! # ubx-modem — an emulated u-blox LEXI-R10
//!
//! The module behind the AT terminals: its state (PDP contexts, FTP profile, recorded settings),
//! its file system, and one file per AT command family, in the shape of Nordic's Serial LTE
//! Modem:
//!
//! | file | commands |
//! |---|---|
//! | [`general`] | `ATI`, `+CGMI`…`+CGSN`, `+CFUN`, `+IPR`, `+CCLK`, `+CSGT`, GPIOs, bring-up settings |
//! | [`sim`] | `+CPIN`, `+CIMI`, `+CCID`, `+CRSM` |
//! | [`network`] | `+CREG`/`+CGREG`/`+CEREG`, `+COPS`, `+CSQ`, `+UCGED`, `+CSCON`, `+CEER`, `+UMNOPROF`, `+UBANDMASK` |
//! | [`power`] | `+CPSMS`, `+UPSMR` |
//! | [`security`] | `+USECMNG` (certificate store), `+USECPRF` (security profiles FTPS uses) |
//! | [`pdp`] | `+CGDCONT`, `+CGACT`, `+CGPADDR`, `+CGATT`, `+CGAUTH` |
//! | [`psd`] | `+UPSD`, `+UPSDA`, `+UPSND` (PSD profiles, on the models that have them) |
//! | [`dns`] | `+UDNSRN`, and the resolver the FTP service shares |
//! | [`fs`] | `+UDWNFILE`, `+URDFILE`, `+ULSTFILE`, … and LEXI-R10's `+FOPEN` handle set |
//! | [`ftp`] | `+UFTP`, `+UFTPC`, `+UFTPER` (direct link through [`data_link`]) |
//!
//! Field conditions — the radio link, the UART's speed, and faults — sit at the module's edges,
//! its sockets and its terminals ([`field`]), so every family gets them without knowing.
//!
//! A [`model::Model`] (one TOML file per model in `models/`) decides which of these commands
//! exist, what test commands print and how the module frames what differs between models.
//!
//! Several terminals share one [`Modem`]: each gets a [`TerminalPort`] whose handler executes
//! commands against the shared state and whose URC channel carries what background work (DNS,
//! FTP) reports to the terminal that asked. [`driver::serve`] runs a terminal over any byte
//! stream; the transports of the `ubxftp` binary are thin adapters around it.

pub mod data_link;
pub mod dns;
pub mod driver;
pub mod field;
pub mod fs;
pub mod ftp;
pub mod general;
pub mod model;
pub mod network;
pub mod pdp;
pub mod power;
pub mod psd;
pub mod security;
pub mod sim;
pub mod trace;
pub mod transcript;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use ubx_at::{Command, CommandError, Handler, Outcome, PayloadRequest, Settings};

use crate::model::Model;

/// Identifies one AT terminal of the module (for URC routing and traces).
pub type TerminalId = u64;

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
    pub field: field::FieldConfig,
    /// The rate `AT+IPR?` shows at start (`--baud`); 115200 when `None`.
    pub ipr: Option<u32>,
}

/// The serial number in a module's IMEI unless one is given.
pub const DEFAULT_IMEI_SERIAL: u32 = 12345;

/// Default capacity of the module file system (`--fs-size`): see docs/FIDELITY.md.
pub const DEFAULT_FS_SIZE: u64 = fs::storage::DEFAULT_CAPACITY;

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
            field: field::FieldConfig::default(),
            ipr: None,
        }
    }
}

/// The mutable state of the module, behind one lock. Commands hold it only while they run,
/// which is never longer than a few microseconds: nothing blocks inside.
#[derive(Debug)]
pub(crate) struct State {
    pub general: general::GeneralState,
    pub sim: sim::SimState,
    pub network: network::NetworkState,
    pub power: power::PowerState,
    pub security: security::SecurityState,
    pub pdp: pdp::PdpState,
    pub psd: psd::PsdState,
    pub fs: fs::FsState,
    pub ftp: ftp::FtpState,
}

/// Whether the module is powered (a `module reboot` fault takes it away for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    On,
    /// Rebooting: the terminals are silent.
    Off,
}

pub(crate) struct Shared {
    pub model: &'static Model,
    pub field: Arc<field::Field>,
    /// Every terminal's driver watches it.
    pub power: tokio::sync::watch::Sender<Power>,
    pub imei: String,
    pub state: Mutex<State>,
    pub fs: fs::storage::ModuleFs,
    pub dns: dns::Dns,
    pub listing_cap: usize,
    urc_sinks: Mutex<HashMap<TerminalId, mpsc::UnboundedSender<Vec<u8>>>>,
    next_terminal: AtomicU64,
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

/// The module after a reboot: the state of power-on, with the file system (and the certificate
/// store in it) and what was stored in NVM kept. Running FTP work is abandoned, and the file a
/// retrieve was writing removed.
pub(crate) fn reset_to_power_on(shared: &Shared) {
    shared.field.faults.operation_ended();
    let mut state = shared.state();
    // The greeting (+CSGT) and the rate (+IPR) are stored settings: they survive.
    let greeting = state.general.greeting.clone();
    let ipr = state.general.ipr;
    state.general = general::GeneralState::default();
    state.general.greeting = greeting;
    state.general.ipr = ipr;
    state.sim = sim::SimState::default();
    state.network = network::NetworkState::default();
    state.power = power::PowerState::default();
    state.pdp = pdp::PdpState::new(shared.model);
    psd::reboot(&mut state, shared.model);
    state.fs = fs::FsState::default();
    state.ftp.power_cycle();
    // A retrieve cut by the reboot leaves no half-written file that would look complete.
    if let Some(name) = state.ftp.writing.take() {
        drop(state);
        tracing::info!(%name, "reboot: removing the file a retrieve was writing");
        let _ = shared.fs.delete(&name);
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
    FileSystem(#[from] fs::storage::FsError),
}

impl Modem {
    /// Builds a module: cid 1 is defined and active, as after attach.
    pub fn new(config: ModemConfig) -> Result<Modem, ModemError> {
        let fs = match &config.fs_dir {
            Some(dir) if config.fs_lazy => fs::storage::ModuleFs::lazy(dir, config.fs_size)?,
            Some(dir) => fs::storage::ModuleFs::open(dir, config.fs_size)?,
            None => fs::storage::ModuleFs::temporary(config.fs_size)?,
        }
        .with_name_limit(config.model.file_system.file_name_max);
        let mut general = general::GeneralState::default();
        if let Some(rate) = config.ipr {
            general.ipr = i64::from(rate);
        }
        let state = State {
            general,
            sim: sim::SimState::default(),
            network: network::NetworkState::default(),
            power: power::PowerState::default(),
            security: security::SecurityState::default(),
            pdp: pdp::PdpState::new(config.model),
            psd: psd::PsdState::new(config.model),
            fs: fs::FsState::default(),
            ftp: ftp::FtpState::default(),
        };
        let (field, actions) = field::Field::new(&config.field);
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
                urc_sinks: Mutex::new(HashMap::new()),
                next_terminal: AtomicU64::new(1),
            }),
        };
        // The field task fires timed faults and applies module faults; without a runtime (a
        // module built for a synchronous test) there are none to apply.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(field::run(Arc::downgrade(&modem.shared), actions));
        }
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
        self.shared.state().ftp.last_error
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
    pub fn field(&self) -> &Arc<field::Field> {
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
                "operation": state.ftp.busy,
                "last_error": [state.ftp.last_error.0, state.ftp.last_error.1],
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
    pub fn filesystem(&self) -> &fs::storage::ModuleFs {
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
            handler: ModemHandler {
                shared: self.shared.clone(),
                terminal: id,
                link: None,
                baud_change: None,
            },
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
        self.handler.terminal
    }
}

/// Executes commands for one terminal against the shared module.
pub struct ModemHandler {
    shared: Arc<Shared>,
    terminal: TerminalId,
    /// The data link of the last command that went pending (`AT+UFTPC=6/7`), for the driver.
    link: Option<data_link::LinkPort>,
    /// The rate of the last `AT+IPR=<rate>`, for the driver to apply after the `OK`.
    baud_change: Option<u32>,
}

impl ModemHandler {
    /// Takes the rate an `AT+IPR=<rate>` just set on this terminal (not 0, autobauding).
    pub fn take_baud_change(&mut self) -> Option<u32> {
        self.baud_change.take()
    }

    /// Takes the data link a command just opened: the driver carries it while the terminal
    /// waits for the answer and then stays in data mode.
    pub fn take_link(&mut self) -> Option<data_link::LinkPort> {
        self.link.take()
    }
}

impl Drop for ModemHandler {
    fn drop(&mut self) {
        self.shared
            .urc_sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.terminal);
        fs::terminal_closed(&self.shared, self.terminal);
    }
}

/// What a command family sees of the module while executing one command.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub terminal: TerminalId,
    /// Where a command that goes on line leaves its data link.
    pub link: Cell<Option<data_link::LinkPort>>,
    /// Where `AT+IPR=<rate>` leaves the rate this terminal changes to after its `OK`.
    pub baud: Cell<Option<u32>>,
}

impl Handler for ModemHandler {
    fn execute(&mut self, cmd: &Command, _settings: &Settings) -> Outcome {
        if cmd.is_extended() && !self.shared.model.has(&cmd.name) {
            return Outcome::Failed(CommandError::Syntax);
        }
        tracing::debug!(terminal = self.terminal, command = %cmd.name, "execute");
        let ctx = Ctx {
            shared: &self.shared,
            terminal: self.terminal,
            link: Cell::new(None),
            baud: Cell::new(None),
        };
        let outcome = general::execute(&ctx, cmd)
            .or_else(|| sim::execute(&ctx, cmd))
            .or_else(|| network::execute(&ctx, cmd))
            .or_else(|| power::execute(&ctx, cmd))
            .or_else(|| security::execute(&ctx, cmd))
            .or_else(|| pdp::execute(&ctx, cmd))
            .or_else(|| psd::execute(&ctx, cmd))
            .or_else(|| dns::execute(&ctx, cmd))
            .or_else(|| fs::execute(&ctx, cmd))
            .or_else(|| ftp::execute(&ctx, cmd))
            .unwrap_or(Outcome::Failed(CommandError::Syntax));
        if let Some(link) = ctx.link.take() {
            self.link = Some(link);
        }
        if let Some(rate) = ctx.baud.take() {
            self.baud_change = Some(rate);
        }
        // A command may have taken a PSD profile's bearer away (`+CGACT=0`, `+CFUN=4`).
        psd::sync(&self.shared);
        outcome
    }

    fn payload_received(&mut self, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
        let ctx = Ctx {
            shared: &self.shared,
            terminal: self.terminal,
            link: Cell::new(None),
            baud: Cell::new(None),
        };
        match request.command.name.as_str() {
            "+USECMNG" => security::payload_received(&ctx, request, data),
            _ => fs::payload_received(&ctx, request, data),
        }
    }
}
