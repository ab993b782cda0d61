//! The HTTP service's part of the module state: its profiles (not kept in NVM).

use crate::services::toolkit::slot::ServiceSlot;

/// One `+UHTTP` profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// Op 0: the server's IP address; op 1: its name. The last one set wins.
    pub server_ip: String,
    pub server_name: String,
    /// Ops 2 and 3; the password is never shown.
    pub user: String,
    pub password: String,
    /// Op 4: 0 none, 1 basic.
    pub auth: u8,
    /// Op 5; `None`: 80, or 443 when secure.
    pub port: Option<u16>,
    /// Op 6: the `+USECPRF` profile of HTTPS, when secure.
    pub secure: Option<u8>,
    /// Op 7: the request timeout in seconds (factory 180).
    pub timeout: u32,
    /// Op 9: custom request headers, `name:value`.
    pub headers: Vec<String>,
}

impl Profile {
    pub fn factory() -> Profile {
        Profile {
            timeout: 180,
            ..Profile::default()
        }
    }

    /// The server to connect to: the address (op 0) or else the name (op 1).
    pub fn server(&self) -> Option<&str> {
        [&self.server_ip, &self.server_name]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
    }

    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.secure.is_some() { 443 } else { 80 })
    }
}

/// Every profile, with its slot (one request at a time per profile) and last error.
#[derive(Debug, Default)]
pub struct HttpState {
    pub profiles: Vec<(Profile, ServiceSlot)>,
}

impl HttpState {
    pub fn new(profiles: u8) -> HttpState {
        HttpState {
            profiles: (0..profiles)
                .map(|_| (Profile::factory(), ServiceSlot::default()))
                .collect(),
        }
    }

    /// A reboot: requests abandoned, profiles factory.
    pub fn power_cycle(&mut self) {
        for (profile, slot) in &mut self.profiles {
            slot.power_cycle();
            *profile = Profile::factory();
        }
    }
}
