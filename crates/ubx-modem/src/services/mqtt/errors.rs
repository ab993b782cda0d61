//! `+UMQTTER`: the one table of MQTT error classes and codes. The vendor's table is not public
//! (internet-suite.md §4.4) except what ubxlib relies on: code 33 for a timeout and 34 for no
//! radio service, which it retries. ubxftp reports `0,0` after a success and class 1 otherwise,
//! one code per cause, here and nowhere else (docs/FIDELITY.md).

use crate::services::toolkit::slot::LastError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttFailure {
    /// No broker name or address in the profile.
    NoServer,
    /// Not logged in, or the session was lost.
    NotLoggedIn,
    /// Already logged in.
    LoggedIn,
    /// The broker refused or could not be reached.
    Connect,
    /// The security profile cannot be used, or the TLS handshake failed.
    Tls,
    /// The broker refused the login (CONNACK return code).
    Refused,
    /// The broker refused the subscription.
    Subscription,
    /// The file to publish does not exist or cannot be read.
    LocalFile,
    /// Another MQTT command is running.
    Busy,
    /// No message waits to be read.
    NoMessage,
    /// The broker did not answer in time (ubxlib retries on it).
    Timeout,
    /// The context is not active: no radio service (ubxlib retries on it).
    NoBearer,
}

impl MqttFailure {
    pub fn class_code(self) -> (u32, u32) {
        let code = match self {
            MqttFailure::NoServer => 1,
            MqttFailure::NotLoggedIn => 2,
            MqttFailure::LoggedIn => 3,
            MqttFailure::Connect => 4,
            MqttFailure::Tls => 5,
            MqttFailure::Refused => 6,
            MqttFailure::Subscription => 8,
            MqttFailure::LocalFile => 9,
            MqttFailure::Busy => 10,
            MqttFailure::NoMessage => 11,
            MqttFailure::Timeout => 33,
            MqttFailure::NoBearer => 34,
        };
        (1, code)
    }
}

impl LastError for MqttFailure {
    fn class_code(&self) -> (u32, u32) {
        MqttFailure::class_code(*self)
    }
}
