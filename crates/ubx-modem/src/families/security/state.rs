//! The security profiles of `+USECPRF`, as the module holds them.

use crate::module::model::Model;

/// Profiles `0..PROFILES`.
pub const PROFILES: usize = 5;

/// One `+USECPRF` profile. Factory values: the model's validation level
/// ([`SecurityProfile::factory`]), any TLS version, automatic suites, no names; `Default` is
/// level 0.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecurityProfile {
    /// Op 0: 0 none, 1 chain to the root, 2 + hostname, 3 + validity dates.
    pub level: u8,
    /// Op 1: 0 any, 1 TLS 1.0, 2 TLS 1.1, 3 TLS 1.2, 4 TLS 1.3 (docs/FIDELITY.md).
    pub min_version: u8,
    /// Op 2: `None` automatic; else the IANA number of the one suite to offer, and whether it was
    /// given by its legacy index (printed back the way it was given).
    pub cipher_suite: Option<(u16, Option<u8>)>,
    /// Op 3, 4, 5, 6, 10.
    pub root: String,
    pub hostname: String,
    pub client_cert: String,
    pub client_key: String,
    pub sni: String,
    /// Op 7; never printed back.
    pub key_password: String,
}

impl SecurityProfile {
    /// A profile with its factory values, validating at `level` (the model's
    /// `security.factory_level`).
    pub fn factory(level: u8) -> SecurityProfile {
        SecurityProfile {
            level,
            ..SecurityProfile::default()
        }
    }
}

impl std::fmt::Debug for SecurityProfile {
    /// Everything but the key password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityProfile")
            .field("level", &self.level)
            .field("min_version", &self.min_version)
            .field("cipher_suite", &self.cipher_suite)
            .field("root", &self.root)
            .field("hostname", &self.hostname)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("sni", &self.sni)
            .field("key_password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug)]
pub struct SecurityState {
    pub profiles: [SecurityProfile; PROFILES],
    /// The model's factory validation level: what every profile starts with and
    /// `AT+USECPRF=<id>` restores.
    pub factory_level: u8,
}

impl SecurityState {
    /// Every profile with the factory values of `model`.
    pub fn new(model: &Model) -> SecurityState {
        let factory_level = model.security.factory_level;
        SecurityState {
            profiles: std::array::from_fn(|_| SecurityProfile::factory(factory_level)),
            factory_level,
        }
    }

    /// A profile with this module's factory values.
    pub fn factory_profile(&self) -> SecurityProfile {
        SecurityProfile::factory(self.factory_level)
    }
}
