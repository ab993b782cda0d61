//! The PSD profiles (`+UPSD`): their parameters, what `+UPSDA=<p>,1` stored, and their bearers.

use crate::families::pdp::state::PdpType;
use crate::module::model::Model;

/// One profile's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Tag 0: 0 IPv4, 1 IPv6, 2 IPv4v6 preferring v4, 3 IPv4v6 preferring v6.
    pub protocol: i64,
    /// Tag 1.
    pub apn: String,
    /// Tag 2.
    pub user: String,
    /// Tag 3; never printed.
    pub(crate) password: String,
    /// Tags 4 and 5.
    pub dns: [String; 2],
    /// Tag 6: 0 none, 1 PAP, 2 CHAP, 3 automatic.
    pub auth: i64,
    /// Tag 7: "0.0.0.0" for a dynamic address.
    pub static_ip: String,
    /// Tags 8 and 9: data and header compression.
    pub compression: [i64; 2],
    /// Tag 100: the `+CGDCONT` cid the profile maps to (0 = the default bearer).
    pub cid: i64,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            protocol: 0,
            apn: String::new(),
            user: String::new(),
            password: String::new(),
            dns: ["0.0.0.0".into(), "0.0.0.0".into()],
            auth: 0,
            static_ip: "0.0.0.0".into(),
            compression: [0, 0],
            cid: 0,
        }
    }
}

impl Profile {
    /// The read form of one tag's value; `None` for the password, which is never shown.
    pub(crate) fn value(&self, tag: i64) -> Option<String> {
        Some(match tag {
            0 => self.protocol.to_string(),
            1 => format!("\"{}\"", self.apn),
            2 => format!("\"{}\"", self.user),
            4 => format!("\"{}\"", self.dns[0]),
            5 => format!("\"{}\"", self.dns[1]),
            6 => self.auth.to_string(),
            7 => format!("\"{}\"", self.static_ip),
            8 => self.compression[0].to_string(),
            9 => self.compression[1].to_string(),
            100 => self.cid.to_string(),
            _ => return None,
        })
    }

    /// The PDP type a bearer for this profile has.
    pub(crate) fn pdp_type(&self) -> PdpType {
        match self.protocol {
            0 => PdpType::Ip,
            1 => PdpType::Ipv6,
            _ => PdpType::Ipv4v6,
        }
    }
}

/// A profile slot: its parameters, what `AT+UPSDA=<p>,1` stored, and its bearer while active.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub profile: Profile,
    pub stored: Profile,
    /// The cid carrying the profile while it is active.
    pub bearer: Option<u8>,
}

#[derive(Debug, Default)]
pub struct PsdState {
    pub slots: Vec<Slot>,
}

impl PsdState {
    pub fn new(model: &Model) -> PsdState {
        PsdState {
            slots: vec![Slot::default(); usize::from(model.psd.profiles)],
        }
    }
}
