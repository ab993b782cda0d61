//! A reboot: the module comes back with its power-on state.

use crate::families::{fs, general, network, pdp, power, psd, sim};
use crate::module::state::Shared;

/// The module after a reboot: the state of power-on, with the file system (and the certificate
/// store in it) and what was stored in NVM kept. Running FTP work is abandoned: a retrieve's
/// name keeps its old file, and its partial stays hidden for a resume, as at a power cut
/// (`ubx_storage::fs`, "durable"). The FOTA area is kept, and so is which download it holds.
pub fn reset_to_power_on(shared: &Shared) {
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
    state.socket.power_cycle();
    state.http.power_cycle();
    state.mqtt.power_cycle();
}
