//! The power-saving part of the module state: `+UPSMR` and `+CPSMS`.

/// Factory timers (3GPP TS 24.008 GPRS Timer 3 / Timer 2 coding): periodic TAU 1 h
/// (`001` = 1 hour units, value 1), active time 1 min (`001` = 1 minute units, value 1).
pub(crate) const FACTORY_TAU: &str = "00100001";

pub(crate) const FACTORY_ACTIVE: &str = "00100001";

#[derive(Debug)]
pub struct PowerState {
    /// `+UPSMR` `<mode>`: 1 reports PSM transitions with `+UUPSMR`.
    pub upsmr: i64,
    /// `+CPSMS` `<mode>` and the requested periodic TAU and active time.
    pub psm: i64,
    pub tau: String,
    pub active: String,
}

impl Default for PowerState {
    fn default() -> Self {
        PowerState {
            upsmr: 0,
            psm: 0,
            tau: FACTORY_TAU.into(),
            active: FACTORY_ACTIVE.into(),
        }
    }
}

impl PowerState {
    /// The (periodic TAU, active time) the network granted: what was requested.
    pub fn granted_timers(&self) -> (&str, &str) {
        (&self.tau, &self.active)
    }
}
