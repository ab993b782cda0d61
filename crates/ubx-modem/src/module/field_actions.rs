//! The module's side of its field conditions: the task that fires timed faults and applies the
//! module actions they raise (a PDP context or the registration lost, a reboot), as the network
//! or the power supply would. The conditions themselves are the `ubx-field` crate.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use ubx_field::events::Event;
use ubx_field::faults::ModuleAction;

use crate::module::state::Shared;

/// The module's field task: fires timed faults and applies module actions. Ends with the module.
pub async fn run(
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

/// Carries out a module action; a trace hears of the bearers it took or brought back.
pub async fn apply(shared: &Arc<Shared>, action: ModuleAction) {
    let bearers = crate::module::trace::active_bearers(shared);
    act(shared, action).await;
    crate::module::trace::bearers_changed(shared, bearers, "network");
}

async fn act(shared: &Arc<Shared>, action: ModuleAction) {
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
            crate::families::psd::sync(shared);
            crate::services::socket::bearer_sync(shared);
        }
        ModuleAction::Deregister => {
            {
                let mut state = shared.state();
                state.network.lost = true;
                crate::families::pdp::detach(&mut state);
            }
            tracing::info!("the network deregistered the module (fault)");
            lost_bearer(shared);
            crate::families::network::registration_changed(shared);
            crate::families::psd::sync(shared);
            crate::services::socket::bearer_sync(shared);
        }
        ModuleAction::Register => {
            {
                let mut state = shared.state();
                state.network.lost = false;
                crate::families::pdp::attach(&mut state);
            }
            tracing::info!("the network registered the module again (fault)");
            crate::families::network::registration_changed(shared);
        }
        ModuleAction::Reboot(away) => reboot(shared, away).await,
        ModuleAction::RrcRelease => crate::families::network::rrc::release(shared),
    }
    // A registration or a context lost or back changes the signalling connection (+CSCON).
    crate::families::network::rrc::check(shared);
}

/// The FTP service's connections end if their bearer is gone.
fn lost_bearer(shared: &Shared) {
    let up = crate::families::psd::ftp_bearer_up(&shared.state(), shared.model);
    if !up {
        shared.field.bearer_lost();
    }
}

/// The module restarts: the terminals go silent for `away`, then it is back with its power-on
/// state. The file system (and the certificate store in it) is kept.
async fn reboot(shared: &Arc<Shared>, away: Duration) {
    tracing::info!(?away, "module reboot (fault)");
    shared.power.send_replace(crate::module::state::Power::Off);
    shared.field.events.emit(Event::Power {
        on: false,
        cause: "fault",
    });
    shared.field.bearer_lost();
    crate::module::reboot::reset_to_power_on(shared);
    tokio::time::sleep(away).await;
    // Each terminal's driver shows the greeting when it sees the power come back.
    shared.power.send_replace(crate::module::state::Power::On);
    shared.field.events.emit(Event::Power {
        on: true,
        cause: "fault",
    });
}
