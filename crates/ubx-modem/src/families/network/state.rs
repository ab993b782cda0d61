//! The network's part of the module state: registration reporting, operator selection, bands.

/// The bands of the factory `+UBANDMASK`: 1, 3, 5, 7, 8, 20, 28.
pub(crate) const FACTORY_BANDS: u64 =
    (1 << 0) | (1 << 2) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 19) | (1 << 27);

#[derive(Debug)]
pub struct NetworkState {
    /// `<n>` of `+CREG`, `+CGREG`, `+CEREG`.
    pub creg: i64,
    pub cgreg: i64,
    pub cereg: i64,
    /// `+COPS` `<mode>` (2: deregistered on request) and `<format>` (0 long, 1 short, 2 numeric).
    pub cops_mode: i64,
    pub cops_format: i64,
    /// `+UCGED` mode: 0 off, 2 or 5.
    pub ucged: i64,
    /// `+CSCON` `<n>`.
    pub cscon: i64,
    pub mno_profile: i64,
    /// The network dropped the module (a `network deregister` fault) until it registers again.
    pub lost: bool,
    /// `+UBANDMASK` for RAT 0: bands 1–64 and 65–128 (also what `+UBANDCONF` sets and reads).
    pub bandmask: (u64, u64),
    /// `+URAT`, once set; the model's factory setting until then.
    pub urat: Option<Vec<i64>>,
    /// What the signalling connection's logic saw last (`super::rrc`); `None` until it first
    /// looks, after power-on.
    pub rrc: Option<RrcSeen>,
}

/// What [`super::rrc`] saw at its last look: the radio's activity count, the registration and
/// the active contexts. A registration or a context that comes up is signalling over the radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrcSeen {
    pub activity: u64,
    pub registered: bool,
    pub active: Vec<u8>,
}

impl Default for NetworkState {
    fn default() -> Self {
        NetworkState {
            creg: 0,
            cgreg: 0,
            cereg: 0,
            cops_mode: 0,
            cops_format: 0,
            ucged: 2,
            cscon: 0,
            mno_profile: 90,
            bandmask: (FACTORY_BANDS, 0),
            lost: false,
            urat: None,
            rrc: None,
        }
    }
}
