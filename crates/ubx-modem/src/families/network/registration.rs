//! Whether the module is registered: what the registration commands report, and what the
//! signalling connection ([`super::rrc`]) needs.

use crate::module::state::State;

/// Whether the module is registered: radio on, attached, not deregistered by `+COPS=2` nor by
/// the network (a fault).
pub(crate) fn is_registered(state: &State) -> bool {
    state.general.cfun == 1
        && state.pdp.attached
        && state.network.cops_mode != 2
        && !state.network.lost
}
