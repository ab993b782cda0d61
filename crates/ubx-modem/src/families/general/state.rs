//! The general family's part of the module state: `+CFUN`, `+IPR`, the recorded settings, the
//! clock and the greeting.

use std::collections::BTreeMap;

use time::PrimitiveDateTime;

/// A recorded numeric setting: its parameters' ranges and factory values, and its test answer.
pub(crate) struct SimpleSetting {
    pub(crate) name: &'static str,
    pub(crate) ranges: &'static [(i64, i64)],
    pub(crate) factory: &'static [i64],
    pub(crate) test: &'static str,
}

/// Settings that are recorded and read back, nothing more (see docs/FIDELITY.md).
pub(crate) const SETTINGS: &[SimpleSetting] = &[
    SimpleSetting {
        name: "+CMGF",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+CMGF: (0-1)",
    },
    SimpleSetting {
        name: "+CTZU",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+CTZU: (0-1)",
    },
    SimpleSetting {
        name: "+UPSV",
        ranges: &[(0, 4), (40, 65000)],
        factory: &[0, 2000],
        test: "+UPSV: (0-4),(40-65000)",
    },
    SimpleSetting {
        name: "+UCALLSTAT",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+UCALLSTAT: (0-1)",
    },
    SimpleSetting {
        name: "+UDTMFD",
        ranges: &[(0, 1), (0, 2)],
        factory: &[0, 2],
        test: "+UDTMFD: (0-1),(0-2)",
    },
    SimpleSetting {
        name: "+CGEREP",
        ranges: &[(0, 2), (0, 1)],
        factory: &[0, 0],
        test: "+CGEREP: (0-2),(0-1)",
    },
    // ubxlib's uCellFotaSetStatusCallback() (u_cell_fota.c): the FOTA status URCs on or off.
    // The emulated network never updates the firmware, so no `+UFOTASTAT:` URC comes.
    SimpleSetting {
        name: "+UFOTASTAT",
        ranges: &[(0, 1)],
        factory: &[0],
        test: "+UFOTASTAT: (0-1)",
    },
];

#[derive(Debug)]
pub struct GeneralState {
    /// `+CFUN` level.
    pub cfun: i64,
    /// `+IPR` as set and stored, 0 for autobauding (`AT&V` shows it).
    pub ipr: i64,
    /// The rate in use, which `AT+IPR?` answers: under autobauding the one detected (the last
    /// rate set: the host keeps using it).
    pub rate: i64,
    /// `+USIO`: the variant requested and the one active, which the requested becomes at the
    /// next reboot; `None` until set (the model's factory variant).
    pub usio: Option<(i64, i64)>,
    /// `+UGPRF`: the GNSS data flow bit map, and the server with its port when the IP bit is set.
    pub gnss_profile: (i64, Option<(i64, String)>),
    /// Values of [`SETTINGS`], by name.
    pub settings: BTreeMap<&'static str, Vec<i64>>,
    /// `+UDCONF` and `+UGPIOC` values, keyed by their first parameter.
    pub udconf: BTreeMap<i64, Vec<i64>>,
    pub gpio: BTreeMap<i64, Vec<i64>>,
    pub cscs: String,
    /// `+CCLK`: the time set, with its time zone in quarter hours, and when it was set; `None`
    /// until set (the host's UTC clock then, as after a network time update).
    pub clock: Option<(PrimitiveDateTime, i8, std::time::Instant)>,
    /// `+CSGT`: the greeting text and whether it is shown at power-on.
    pub greeting: (String, bool),
}

impl Default for GeneralState {
    fn default() -> Self {
        GeneralState {
            cfun: 1,
            ipr: 115200,
            rate: 115200,
            usio: None,
            gnss_profile: (0, None),
            settings: SETTINGS
                .iter()
                .map(|s| (s.name, s.factory.to_vec()))
                .collect(),
            udconf: BTreeMap::new(),
            gpio: BTreeMap::new(),
            cscs: "IRA".into(),
            clock: None,
            greeting: (String::new(), false),
        }
    }
}
