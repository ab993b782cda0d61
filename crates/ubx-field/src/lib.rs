//! Field conditions: the module under a slow radio link, on a real UART speed, with faults a
//! test can trigger.
//!
//! They sit at the module's edges, so every command family gets them without knowing:
//!
//! - its **sockets**: every FTP control and data connection goes through [`socket::FieldSocket`]
//!   (the FTP engine's [`ftp_client::SocketLayer`]), which applies the [`link`] model and the
//!   socket faults; name lookups ask the fault engine too ([`Field::before_lookup`]);
//! - its **terminals**: [`uart::Uart`] paces a terminal's bytes at the baud rate and applies line
//!   faults;
//! - its **state**: PDP, network and reboot faults raise [`faults::ModuleAction`]s, which the
//!   module applies as the network or the power supply would (ubx-modem's `field_actions`);
//! - its **radio**: [`radio::Radio`] counts the activity the sockets and lookups report, for the
//!   module's signalling connection.
//!
//! This crate knows nothing of the module it serves: it sits under it.
//!
//! What a user writes is in [`spec`], with its one validator; the engine that decides when a fault
//! fires is [`faults`]. docs/FIELD.md is the user's guide.

pub mod events;
pub mod faults;
pub mod link;
pub mod radio;
pub mod socket;
pub mod spec;
pub mod uart;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::time::Instant;

use faults::{Engine, ModuleAction};
use link::Link;
use spec::{LinkSpec, Target};

/// How to start a module's field conditions.
#[derive(Debug, Clone)]
pub struct FieldConfig {
    pub link: LinkSpec,
    /// Seeds jitter, loss and line faults.
    pub seed: u64,
    /// Faults set from the start (`--faults FILE`).
    pub faults: Vec<spec::Fault>,
}

impl Default for FieldConfig {
    fn default() -> Self {
        FieldConfig {
            link: LinkSpec::UNSHAPED,
            seed: 0,
            faults: Vec::new(),
        }
    }
}

/// One module's field: its link, its faults, and the generation of its FTP bearer.
#[derive(Debug)]
pub struct Field {
    pub link: Link,
    shaped: AtomicBool,
    pub faults: Engine,
    /// Bumped when the FTP service's bearer goes away: its sockets then reset.
    generation: AtomicU64,
    next_socket: AtomicU64,
    /// The last FTP control and data connections opened (0: none), which an FTPS handshake
    /// reported by the FTP client is on: a module has one FTP session, one data connection at
    /// a time.
    last_ftp: [AtomicU64; 2],
    pub seed: u64,
    pub started: Instant,
    /// The radio's activity, for the module's signalling connection (`+CSCON`).
    pub radio: radio::Radio,
    /// What a trace records of this module's network side (docs/TRACE.md).
    pub events: Arc<events::Events>,
}

impl Field {
    /// The field, and the receiver of the module actions its faults fire.
    pub fn new(config: &FieldConfig) -> (Arc<Field>, mpsc::UnboundedReceiver<ModuleAction>) {
        let started = Instant::now();
        let (engine, actions) = Engine::new(started);
        let events = engine.events().clone();
        let field = Arc::new(Field {
            link: Link::new(config.link, config.seed),
            shaped: AtomicBool::new(config.link.is_shaped()),
            faults: engine,
            generation: AtomicU64::new(0),
            next_socket: AtomicU64::new(1),
            last_ftp: [AtomicU64::new(0), AtomicU64::new(0)],
            seed: config.seed,
            started,
            radio: radio::Radio::new(started),
            events,
        });
        field.faults.add_all(config.faults.iter().cloned());
        (field, actions)
    }

    /// Whether the link shapes anything (read on every socket call).
    pub fn shaped(&self) -> bool {
        self.shaped.load(Ordering::Relaxed)
    }

    /// Changes the link live (`PUT /link`).
    pub fn set_link(&self, spec: LinkSpec) {
        self.link.set(spec);
        self.shaped.store(spec.is_shaped(), Ordering::Relaxed);
        self.events.emit(events::Event::Link {
            spec: spec.to_string(),
        });
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The FTP bearer went away: its connections reset at their next call.
    pub fn bearer_lost(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn next_socket_id(&self) -> u64 {
        self.next_socket.fetch_add(1, Ordering::Relaxed)
    }

    /// A TLS handshake on `conn` settled `tls`: a trace records it.
    pub fn tls_established(&self, conn: Option<u64>, tls: &ftp_client::TlsSummary) {
        self.events.emit(events::Event::Tls {
            conn,
            version: tls.version.clone(),
            suite: tls.suite.clone(),
            resumed: tls.resumed,
        });
    }

    /// Remembers `conn` as the last FTP connection of `target` (control or data).
    pub(crate) fn opened_ftp(&self, target: Target, conn: u64) {
        match target {
            Target::FtpControl => self.last_ftp[0].store(conn, Ordering::Relaxed),
            Target::FtpData => self.last_ftp[1].store(conn, Ordering::Relaxed),
            _ => {}
        }
    }

    /// The last FTP connection of `target` opened, if any.
    pub(crate) fn last_ftp(&self, target: Target) -> Option<u64> {
        let slot = match target {
            Target::FtpControl => &self.last_ftp[0],
            Target::FtpData => &self.last_ftp[1],
            _ => return None,
        };
        Some(slot.load(Ordering::Relaxed)).filter(|c| *c != 0)
    }

    /// The name lookup's fate: `Err` when a `dns fail` fault fires; after a `dns delay`, or
    /// the link's round trip (a lookup is one exchange over the radio).
    pub async fn before_lookup(&self) -> std::io::Result<()> {
        self.radio.activity();
        let mut wait = self.link.spec().rtt;
        match self.faults.dns_event() {
            Some(faults::DnsAction::Fail) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "name resolution failed (dns fault)",
                ));
            }
            Some(faults::DnsAction::Delay(d)) => wait += d,
            None => {}
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}
