//! A reboot: the module comes back with its power-on state.

use crate::families::{fs, network, pdp, power, psd, sim};
use crate::module::state::Shared;

/// The module after a reboot: the state of power-on, with the file system (and the certificate
/// store in it) and what was stored in NVM kept. Running FTP work is abandoned: a retrieve's
/// name keeps its old file, and its partial stays hidden for a resume, as at a power cut
/// (`ubx_storage::fs`, "durable"). The FOTA area is kept, and so is which download it holds.
pub fn reset_to_power_on(shared: &Shared) {
    shared.field.faults.operation_ended();
    let mut state = shared.state();
    // The greeting (+CSGT), the rate (+IPR), the serial interface variant (+USIO) and the GNSS
    // profile (+UGPRF) are stored settings: they survive, and the variant requested is the one
    // active now.
    let old = std::mem::take(&mut state.general);
    state.general.greeting = old.greeting;
    state.general.ipr = old.ipr;
    state.general.rate = old.rate;
    state.general.usio = old.usio.map(|(requested, _)| (requested, requested));
    state.general.gnss_profile = old.gnss_profile;
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
