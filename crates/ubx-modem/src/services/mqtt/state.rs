//! The MQTT service's part of the module state: the profile, what NVM holds of it, the session
//! and the messages waiting to be read.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use crate::services::toolkit::slot::ServiceSlot;

/// The `+UMQTT` profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Op 0; empty: the IMEI at login.
    pub client_id: String,
    /// Op 1: the local port, when set.
    pub local_port: Option<u16>,
    /// Op 2 and 3: the broker's name or address (the last set wins), and its port.
    pub server_name: String,
    pub server_ip: String,
    pub port: Option<u16>,
    /// Op 4; the password is never shown.
    pub user: String,
    pub password: String,
    /// Ops 6 to 9: the last will.
    pub will_qos: u8,
    pub will_retain: bool,
    pub will_topic: String,
    pub will_message: Vec<u8>,
    /// Op 10: keep-alive (inactivity timeout), seconds; 0 none.
    pub keep_alive: u16,
    /// Op 11: the `+USECPRF` profile, when secure.
    pub secure: Option<u8>,
    /// Op 12.
    pub clean_session: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            client_id: String::new(),
            local_port: None,
            server_name: String::new(),
            server_ip: String::new(),
            port: None,
            user: String::new(),
            password: String::new(),
            will_qos: 0,
            will_retain: false,
            will_topic: String::new(),
            will_message: Vec::new(),
            keep_alive: 0,
            secure: None,
            clean_session: true,
        }
    }
}

impl Profile {
    pub fn server(&self) -> Option<&str> {
        [&self.server_ip, &self.server_name]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
    }

    /// 1883, or 8883 when secure, unless op 2/3 gave one.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.secure.is_some() { 8883 } else { 1883 })
    }
}

/// A message received on a subscription, waiting for `AT+UMQTTC=6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
}

/// The live session: where its commands go.
#[derive(Debug)]
pub struct Session {
    pub commands: mpsc::Sender<command::Command>,
    pub task: tokio::task::AbortHandle,
    /// Bumped for each login, so an old session's end does not end a new one.
    pub generation: u64,
}

/// The commands a session takes (kept here so the state names their type).
pub mod command {
    use rumqttc::mqttbytes::v4::Packet;
    use tokio::sync::oneshot;

    /// A packet to send; the answer (the broker's acknowledgement, or none for QoS 0) comes
    /// back through `done`.
    #[derive(Debug)]
    pub struct Command {
        pub packet: Packet,
        pub done: Option<oneshot::Sender<Packet>>,
    }
}

/// How many messages wait at most; a new one beyond it pushes the oldest out.
pub const INBOX: usize = 64;

#[derive(Debug, Default)]
pub struct MqttState {
    pub profile: Profile,
    /// `+UMQTTNV=2` stored this; `+UMQTTNV=1` brings it back.
    pub stored: Option<Profile>,
    pub slot: ServiceSlot,
    pub session: Option<Session>,
    pub next_generation: u64,
    pub inbox: VecDeque<Message>,
    /// Messages pushed out of a full inbox.
    pub dropped: u64,
    /// `AT+UMQTTC=7`: the format of messages read.
    pub format: u8,
    /// Arrival URCs held while an operation runs: its result is reported first, as a module
    /// that reports a publish before the echo of it (`work::run` sends them after the result).
    pub held: Vec<Vec<u8>>,
}

impl MqttState {
    /// A reboot: the session gone, the profile back to what NVM holds.
    pub fn power_cycle(&mut self) {
        self.slot.power_cycle();
        if let Some(session) = self.session.take() {
            session.task.abort();
        }
        self.profile = self.stored.clone().unwrap_or_default();
        self.inbox.clear();
        self.held.clear();
    }
}
