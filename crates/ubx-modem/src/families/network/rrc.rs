//! The module's signalling connection to its cell (RRC), as `+CSCON` reports it.
//!
//! The connection comes up with signalling or data over the radio: an attach, a context that
//! comes up, a name lookup, a connection opened or bytes moved on one (the radio's activity,
//! [`ubx_field::radio::Radio`]). The network releases it after
//! [`RRC_INACTIVITY`](ubx_field::radio::RRC_INACTIVITY) without any, at once when the module
//! deregisters or its radio goes off, and when an `rrc release` fault says so. Each change goes
//! to every terminal as `+CSCON: <mode>` while `AT+CSCON=1` asks for it, and `AT+CSCON?` shows the
//! same `<mode>`. The module starts idle.
//!
//! The activity comes from anywhere (sockets run in tasks of their own); [`check`] looks after
//! every command and field action, and [`run`], the module's RRC task, wakes on activity while
//! the connection is down and at the inactivity deadline while it is up.

use std::sync::Weak;

use tokio::time::Instant;

use crate::families::network::registration::is_registered;
use crate::families::network::state::RrcSeen;
use crate::module::state::{Shared, State};

/// The registration and the active contexts now, with the radio's activity count.
fn seen(state: &State, activity: u64) -> RrcSeen {
    RrcSeen {
        activity,
        registered: is_registered(state),
        active: state.pdp.active_cids(),
    }
}

/// The URC of a change to `connected`, when the terminals asked for it (`AT+CSCON=1`).
fn report(state: &State, connected: bool) -> Option<String> {
    (state.network.cscon == 1).then(|| format!("+CSCON: {}", u8::from(connected)))
}

/// Looks at the module: signalling since the last look (a registration or a context that came
/// up) is radio activity; then the connection is up while registered and active within the
/// inactivity time, down otherwise. A change is reported.
pub(crate) fn check(shared: &Shared) {
    let radio = &shared.field.radio;
    let urc = {
        let mut state = shared.state();
        let mut now = seen(&state, radio.count());
        let Some(before) = state.network.rrc.take() else {
            // Power-on: what the module starts with is no news, and it starts idle.
            state.network.rrc = Some(now);
            if radio.is_connected() {
                radio.set_connected(false);
            }
            return;
        };
        let signalled = (now.registered && !before.registered)
            || now.active.iter().any(|cid| !before.active.contains(cid));
        if signalled {
            radio.activity();
            now.activity = radio.count();
        }
        let connected = radio.is_connected();
        let want = now.registered
            && if connected {
                Instant::now() < radio.idle_at()
            } else {
                now.activity != before.activity
            };
        state.network.rrc = Some(now);
        if want == connected {
            None
        } else {
            radio.set_connected(want);
            tracing::debug!(connected = want, "signalling connection");
            report(&state, want)
        }
    };
    if let Some(urc) = urc {
        shared.broadcast(urc);
    }
}

/// Radio activity now, from the module's own work (a connection it opens): looked at at once, so
/// its report comes in order with the command's answer.
pub(crate) fn activity(shared: &Shared) {
    shared.field.radio.activity();
    check(shared);
}

/// Whether the signalling connection is up (`AT+CSCON?`'s `<mode>`).
pub(crate) fn connected(shared: &Shared) -> bool {
    check(shared);
    shared.field.radio.is_connected()
}

/// The network releases the connection (an `rrc release` fault): idle until the next activity.
pub(crate) fn release(shared: &Shared) {
    check(shared);
    let radio = &shared.field.radio;
    let urc = {
        let mut state = shared.state();
        let count = radio.count();
        if let Some(seen) = state.network.rrc.as_mut() {
            seen.activity = count;
        }
        if radio.is_connected() {
            radio.set_connected(false);
            tracing::info!("the network released the signalling connection (fault)");
            report(&state, false)
        } else {
            None
        }
    };
    if let Some(urc) = urc {
        shared.broadcast(urc);
    }
}

/// The module's RRC task: looks when the radio is active while the connection is down, and when
/// the inactivity time may be over while it is up. Ends with the module.
pub async fn run(shared: Weak<Shared>) {
    let Some((field, mut gone)) = shared
        .upgrade()
        .map(|s| (s.field.clone(), s.power.subscribe()))
    else {
        return;
    };
    loop {
        let deadline = field.radio.is_connected().then(|| field.radio.idle_at());
        tokio::select! {
            () = field.radio.woken() => {}
            () = sleep_until(deadline) => {}
            changed = gone.changed() => if changed.is_err() {
                return;
            },
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        check(&shared);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
