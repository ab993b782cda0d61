//! Field conditions: the module under a slow radio link, on a real UART speed, with faults a
//! test can trigger.
//!
//! They sit at the module's edges, so every command family gets them without knowing:
//!
//! - its **sockets**: every FTP control and data connection goes through [`socket::FieldSocket`]
//!   (the FTP engine's [`ftp_client::SocketLayer`]), which applies the [`link`] model and the
//!   socket faults; name lookups ask the fault engine too ([`crate::dns`]);
//! - its **terminals**: [`uart::Uart`] paces a terminal's bytes at the baud rate and applies line
//!   faults;
//! - its **state**: PDP, network and reboot faults change the module as the network or the
//!   power supply would ([`apply`]), from one task per module ([`run`]).
//!
//! What a user writes is in [`spec`], with its one validator; the engine that decides when a fault
//! fires is [`faults`]. docs/FIELD.md is the user's guide.

pub mod faults;
pub mod link;
pub mod socket;
pub mod spec;
pub mod uart;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Shared;
use faults::{Engine, ModuleAction};
use link::Link;
use spec::LinkSpec;

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
    pub seed: u64,
    pub started: Instant,
}

impl Field {
    /// The field, and the receiver of the module actions its faults fire.
    pub fn new(config: &FieldConfig) -> (Arc<Field>, mpsc::UnboundedReceiver<ModuleAction>) {
        let started = Instant::now();
        let (engine, actions) = Engine::new(started);
        let field = Arc::new(Field {
            link: Link::new(config.link, config.seed),
            shaped: AtomicBool::new(config.link.is_shaped()),
            faults: engine,
            generation: AtomicU64::new(0),
            next_socket: AtomicU64::new(1),
            seed: config.seed,
            started,
        });
        for fault in &config.faults {
            field.faults.add(fault.clone());
        }
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
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The FTP bearer went away: its connections reset at their next call.
    pub(crate) fn bearer_lost(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn next_socket_id(&self) -> u64 {
        self.next_socket.fetch_add(1, Ordering::Relaxed)
    }

    /// The name lookup's fate: `Err` when a `dns fail` fault fires; after a `dns delay`, or
    /// the link's round trip (a lookup is one exchange over the radio).
    pub async fn before_lookup(&self) -> std::io::Result<()> {
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

/// The module's field task: fires timed faults and applies module actions. Ends with the module.
pub(crate) async fn run(
    shared: std::sync::Weak<Shared>,
    mut actions: mpsc::UnboundedReceiver<ModuleAction>,
) {
    // The power watch's sender lives in the module: when the module goes, this ends the task.
    let Some(mut gone) = shared.upgrade().map(|s| s.power.subscribe()) else {
        return;
    };
    loop {
        let field = match shared.upgrade() {
            Some(s) => s.field.clone(),
            None => return,
        };
        let deadline = field.faults.next_deadline();
        let action = tokio::select! {
            a = actions.recv() => match a {
                Some(a) => Some(a),
                None => return,
            },
            () = sleep_until(deadline) => {
                field.faults.tick();
                None
            }
            () = field.faults.changed() => None,
            changed = gone.changed() => match changed {
                Ok(()) => None,
                Err(_) => return,
            },
        };
        drop(field);
        if let Some(action) = action {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            if let ModuleAction::Reboot(_) = action {
                // A reboot takes a while; timed faults meanwhile still fire.
                tokio::spawn(async move { apply(&shared, action).await });
            } else {
                apply(&shared, action).await;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Carries out a module action.
pub(crate) async fn apply(shared: &Arc<Shared>, action: ModuleAction) {
    match action {
        ModuleAction::Deactivate(cid) => {
            let cgerep = {
                let mut state = shared.state();
                let was_active = match state.pdp.contexts.get_mut(&cid) {
                    Some(c) if c.active => {
                        c.active = false;
                        true
                    }
                    _ => false,
                };
                if !was_active {
                    tracing::info!(cid, "pdp deactivate fault: the context was not active");
                    return;
                }
                state
                    .general
                    .settings
                    .get("+CGEREP")
                    .and_then(|v| v.first().copied())
                    .unwrap_or(0)
            };
            tracing::info!(cid, "the network deactivated a PDP context (fault)");
            lost_bearer(shared);
            if cgerep != 0 {
                shared.broadcast(format!("+CGEV: NW PDN DEACT {cid}"));
            }
            crate::psd::sync(shared);
        }
        ModuleAction::Deregister => {
            {
                let mut state = shared.state();
                state.network.lost = true;
                crate::pdp::detach(&mut state);
            }
            tracing::info!("the network deregistered the module (fault)");
            lost_bearer(shared);
            crate::network::registration_changed(shared);
            crate::psd::sync(shared);
        }
        ModuleAction::Register => {
            {
                let mut state = shared.state();
                state.network.lost = false;
                crate::pdp::attach(&mut state);
            }
            tracing::info!("the network registered the module again (fault)");
            crate::network::registration_changed(shared);
        }
        ModuleAction::Reboot(away) => reboot(shared, away).await,
    }
}

/// The FTP service's connections end if their bearer is gone.
fn lost_bearer(shared: &Shared) {
    let up = crate::psd::ftp_bearer_up(&shared.state(), shared.model);
    if !up {
        shared.field.bearer_lost();
    }
}

/// The module restarts: the terminals go silent for `away`, then it is back with its power-on
/// state. The file system (and the certificate store in it) is kept.
async fn reboot(shared: &Arc<Shared>, away: Duration) {
    tracing::info!(?away, "module reboot (fault)");
    shared.power.send_replace(crate::Power::Off);
    shared.field.bearer_lost();
    crate::reset_to_power_on(shared);
    tokio::time::sleep(away).await;
    // Each terminal's driver shows the greeting when it sees the power come back.
    shared.power.send_replace(crate::Power::On);
}
