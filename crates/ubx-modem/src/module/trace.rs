//! What the module tells a trace about itself (docs/TRACE.md): its bearers going and coming.
//! The connections, faults and link are the field's own events (`ubx_field::events`).

use ubx_field::events::Event;

use crate::module::state::Shared;

/// The active contexts now, when a trace listens (`None` otherwise: nothing to compare).
pub(crate) fn active_bearers(shared: &Shared) -> Option<Vec<u8>> {
    if !shared.field.events.on() {
        return None;
    }
    Some(shared.state().pdp.active_cids())
}

/// Records each context that went down or came up since `before` ([`active_bearers`]).
pub(crate) fn bearers_changed(shared: &Shared, before: Option<Vec<u8>>, cause: &'static str) {
    let (Some(before), Some(after)) = (before, active_bearers(shared)) else {
        return;
    };
    for cid in before.iter().filter(|c| !after.contains(c)) {
        shared.field.events.emit(Event::Bearer {
            cid: *cid,
            up: false,
            cause,
        });
    }
    for cid in after.iter().filter(|c| !before.contains(c)) {
        shared.field.events.emit(Event::Bearer {
            cid: *cid,
            up: true,
            cause,
        });
    }
}
