//! `+UMQTTER`: the one table of MQTT error classes and codes. The vendor's table is not public
//! (internet-suite.md §4.4) except what ubxlib relies on: code 33 for a timeout and 34 for no
//! radio service, which it retries. ubxftp reports `0,0` after a success and class 1 otherwise,
//! one code per cause, here and nowhere else (docs/FIDELITY.md). Each refusing CONNACK return
//! code of MQTT 3.1.1 has a code of its own.

use rumqttc::mqttbytes::v4::ConnectReturnCode;

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
    /// CONNACK 5: the client is not authorised (mosquitto's answer to a wrong password).
    NotAuthorized,
    /// The broker answered the CONNECT with something other than a CONNACK.
    Protocol,
    /// The broker refused the subscription.
    Subscription,
    /// The file to publish does not exist or cannot be read.
    LocalFile,
    /// Another MQTT command is running.
    Busy,
    /// No message waits to be read.
    NoMessage,
    /// CONNACK 1: the broker does not speak MQTT 3.1.1.
    ProtocolVersion,
    /// CONNACK 2: the client identifier is rejected.
    ClientIdRejected,
    /// CONNACK 3: the MQTT service is unavailable.
    ServerUnavailable,
    /// CONNACK 4: bad user name or password.
    BadCredentials,
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
            MqttFailure::NotAuthorized => 6,
            MqttFailure::Protocol => 7,
            MqttFailure::Subscription => 8,
            MqttFailure::LocalFile => 9,
            MqttFailure::Busy => 10,
            MqttFailure::NoMessage => 11,
            MqttFailure::ProtocolVersion => 12,
            MqttFailure::ClientIdRejected => 13,
            MqttFailure::ServerUnavailable => 14,
            MqttFailure::BadCredentials => 15,
            MqttFailure::Timeout => 33,
            MqttFailure::NoBearer => 34,
        };
        (1, code)
    }

    /// The failure of a login the broker refused with this CONNACK return code; `None` for
    /// an accepted one.
    pub fn refused(code: ConnectReturnCode) -> Option<MqttFailure> {
        match code {
            ConnectReturnCode::Success => None,
            ConnectReturnCode::RefusedProtocolVersion => Some(MqttFailure::ProtocolVersion),
            ConnectReturnCode::BadClientId => Some(MqttFailure::ClientIdRejected),
            ConnectReturnCode::ServiceUnavailable => Some(MqttFailure::ServerUnavailable),
            ConnectReturnCode::BadUserNamePassword => Some(MqttFailure::BadCredentials),
            ConnectReturnCode::NotAuthorized => Some(MqttFailure::NotAuthorized),
        }
    }
}

impl LastError for MqttFailure {
    fn class_code(&self) -> (u32, u32) {
        MqttFailure::class_code(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refusing CONNACK return code has a `+UMQTTER` code of its own, unlike any other
    /// failure's (docs/FIDELITY.md, "CONNACK refusals").
    #[test]
    fn each_connack_refusal_has_its_own_code() {
        let codes = [
            (ConnectReturnCode::RefusedProtocolVersion, 12),
            (ConnectReturnCode::BadClientId, 13),
            (ConnectReturnCode::ServiceUnavailable, 14),
            (ConnectReturnCode::BadUserNamePassword, 15),
            (ConnectReturnCode::NotAuthorized, 6),
        ];
        for (connack, code) in codes {
            let failure = MqttFailure::refused(connack);
            assert_eq!(failure.map(MqttFailure::class_code), Some((1, code)));
        }
        assert_eq!(MqttFailure::refused(ConnectReturnCode::Success), None);
        let others = [
            MqttFailure::NoServer,
            MqttFailure::NotLoggedIn,
            MqttFailure::LoggedIn,
            MqttFailure::Connect,
            MqttFailure::Tls,
            MqttFailure::Protocol,
            MqttFailure::Subscription,
            MqttFailure::LocalFile,
            MqttFailure::Busy,
            MqttFailure::NoMessage,
            MqttFailure::Timeout,
            MqttFailure::NoBearer,
        ];
        for other in others {
            assert!(!codes.iter().any(|(_, c)| other.class_code() == (1, *c)));
        }
    }
}
