//! The MQTT service as the toolkit knows it.

use crate::module::state::State;
use crate::services::toolkit::ending::Service;
use crate::services::toolkit::slot::ServiceSlot;

/// The MQTT service: one command at a time.
pub struct Mqtt;

impl Service for Mqtt {
    const NAME: &'static str = "mqtt";
    fn slot(state: &mut State, _instance: usize) -> &mut ServiceSlot {
        &mut state.mqtt.slot
    }
}
