//! `+UHTTPER`: the one table of HTTP error classes and codes. The vendor's table (appendix A.6)
//! is not public (internet-suite.md §3.4); ubxftp reports class 0 code 0 after a success and
//! class 1 with one code per cause of its own, here and nowhere else. docs/FIDELITY.md lists
//! them. A response with an error status (404, 500) is a completed request: the file holds it.

use crate::services::toolkit::slot::LastError;

/// Why an HTTP operation failed, as `+UHTTPER` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFailure {
    /// No server name or address in the profile.
    NoServer,
    /// The profile's context is not active.
    NoBearer,
    /// The server name could not be resolved.
    Dns,
    /// The server refused or could not be reached.
    Connect,
    /// The security profile cannot be used, or the TLS handshake failed.
    Tls,
    /// The request timed out (`+UHTTP` op 7).
    Timeout,
    /// The connection broke or the server broke the protocol mid-response.
    ConnectionLost,
    /// The module file system has no room for the response.
    FileSystemFull,
    /// The file to send does not exist or cannot be read, or the response cannot be written.
    LocalFile,
    /// Another request of this profile is running.
    Busy,
    /// The host left a direct link before the request was complete.
    HostLeft,
}

impl HttpFailure {
    /// `(class, code)` of `+UHTTPER`.
    pub fn class_code(self) -> (u32, u32) {
        let code = match self {
            HttpFailure::NoServer => 1,
            HttpFailure::NoBearer => 2,
            HttpFailure::Dns => 3,
            HttpFailure::Connect => 4,
            HttpFailure::Tls => 5,
            HttpFailure::Timeout => 6,
            HttpFailure::ConnectionLost => 7,
            HttpFailure::FileSystemFull => 8,
            HttpFailure::LocalFile => 9,
            HttpFailure::Busy => 10,
            HttpFailure::HostLeft => 11,
        };
        (1, code)
    }
}

impl LastError for HttpFailure {
    fn class_code(&self) -> (u32, u32) {
        HttpFailure::class_code(*self)
    }
}
