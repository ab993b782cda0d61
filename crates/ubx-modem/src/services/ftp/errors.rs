//! `+UFTPER`: the one table of FTP error classes and codes.
//!
//! The vendor documents class 0 only: "reply code if `<error_class>` is 0" — the FTP server's
//! own reply to the failed command (`+UFTPER: 0,550`). The class/code appendix for local
//! failures is not public (related-commands.md §1b), so ubxftp defines class 1 for the module's
//! own causes, one code per cause, here and nowhere else. docs/FIDELITY.md lists the table.

use ftp_client::{CloseReason, ErrorKind, FtpError};
use ubx_storage::fs::FsError;

use crate::services::toolkit::slot::LastError;

/// Why an FTP operation failed, as `+UFTPER` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtpFailure {
    /// The server refused: its reply code.
    ServerReply(u16),
    /// No FTP session: not logged in, or the session was closed by the server or an error.
    NotLoggedIn,
    /// Another FTP operation is still running.
    Busy,
    /// The server name could not be resolved.
    Dns,
    /// The server refused or could not be reached on TCP.
    ConnectionRefused,
    /// A connect, reply or data timer ran out.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The profile's PDP context (`+UFTP=20`) is not active.
    NoActiveContext,
    /// The module file system has no room for the retrieved data.
    FileSystemFull,
    /// The local file does not exist, or cannot be read or written.
    LocalFile,
    /// The session was closed after the inactivity timeout (`+UFTP=5`).
    InactivityTimeout,
    /// The connection broke or the server broke the protocol.
    ConnectionLost,
    /// The profile names no server (`+UFTP=0` and `+UFTP=1` both empty).
    NoServer,
    /// A FOTA download was suspended (`AT+UFTPC=100,...,0`).
    Suspended,
    /// `AT+UFTPC=100,...,1` with no interrupted FOTA download to resume.
    NothingToResume,
    /// A direct link (`AT+UFTPC=6/7`) ended by the host before the transfer was complete: `+++`
    /// or DTR during a retrieve, or the terminal closed.
    HostLeft,
    /// The server's certificate does not chain to the security profile's root.
    Untrusted,
    /// The server's certificate names another host than the profile expects.
    NameMismatch,
    /// The server's certificate is expired or not yet valid.
    Expired,
    /// The security profile names a certificate or key the store does not have.
    SecurityProfile,
    /// A resume (`<retrieving_mode>` 1) from an offset beyond the remote file's end: the local
    /// file is longer than the remote one, so it is not its start.
    ResumeBeyondEnd,
}

/// Class of the module's own failures.
pub const LOCAL_CLASS: u32 = 1;

impl LastError for FtpFailure {
    fn class_code(&self) -> (u32, u32) {
        FtpFailure::class_code(*self)
    }
}

impl FtpFailure {
    /// A module file system failure while a retrieve writes or a store reads.
    pub fn from_fs(e: &FsError) -> FtpFailure {
        match e {
            FsError::NotEnoughSpace => FtpFailure::FileSystemFull,
            _ => FtpFailure::LocalFile,
        }
    }

    /// `(<error_class>, <error_code>)` for `+UFTPER`.
    pub fn class_code(self) -> (u32, u32) {
        let local = |code| (LOCAL_CLASS, code);
        match self {
            FtpFailure::ServerReply(code) => (0, u32::from(code)),
            FtpFailure::NotLoggedIn => local(1),
            FtpFailure::Busy => local(2),
            FtpFailure::Dns => local(3),
            FtpFailure::ConnectionRefused => local(4),
            FtpFailure::Timeout => local(5),
            FtpFailure::Tls => local(6),
            FtpFailure::NoActiveContext => local(7),
            FtpFailure::FileSystemFull => local(8),
            FtpFailure::LocalFile => local(9),
            FtpFailure::InactivityTimeout => local(10),
            FtpFailure::ConnectionLost => local(11),
            FtpFailure::NoServer => local(12),
            FtpFailure::Suspended => local(13),
            FtpFailure::NothingToResume => local(14),
            FtpFailure::HostLeft => local(15),
            FtpFailure::Untrusted => local(16),
            FtpFailure::NameMismatch => local(17),
            FtpFailure::Expired => local(18),
            FtpFailure::SecurityProfile => local(19),
            FtpFailure::ResumeBeyondEnd => local(20),
        }
    }

    /// Classifies an error of the FTP engine.
    pub fn from_ftp(e: &FtpError) -> FtpFailure {
        match e.kind() {
            ErrorKind::Reply(reply) | ErrorKind::Aborted(reply) => {
                FtpFailure::ServerReply(reply.code())
            }
            ErrorKind::Resolve { .. } | ErrorKind::NoAddress { .. } => FtpFailure::Dns,
            ErrorKind::ConnectRefused(_) => FtpFailure::ConnectionRefused,
            ErrorKind::Timeout(_) => FtpFailure::Timeout,
            ErrorKind::Certificate(why) => certificate_failure(why),
            ErrorKind::TlsHandshake { .. } | ErrorKind::TlsConfig(_) => FtpFailure::Tls,
            ErrorKind::LocalWrite(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                FtpFailure::FileSystemFull
            }
            ErrorKind::LocalWrite(_) | ErrorKind::LocalRead(_) => FtpFailure::LocalFile,
            ErrorKind::Closed(CloseReason::Inactivity) => FtpFailure::InactivityTimeout,
            ErrorKind::Closed(_) => FtpFailure::NotLoggedIn,
            ErrorKind::Io { source, .. }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                FtpFailure::ConnectionRefused
            }
            ErrorKind::Io { .. } | ErrorKind::Protocol(_) | ErrorKind::InvalidArgument(_) => {
                FtpFailure::ConnectionLost
            }
        }
    }
}

/// The module's own causes, class [`LOCAL_CLASS`], each once.
const LOCAL_CAUSES: [FtpFailure; 20] = [
    FtpFailure::NotLoggedIn,
    FtpFailure::Busy,
    FtpFailure::Dns,
    FtpFailure::ConnectionRefused,
    FtpFailure::Timeout,
    FtpFailure::Tls,
    FtpFailure::NoActiveContext,
    FtpFailure::FileSystemFull,
    FtpFailure::LocalFile,
    FtpFailure::InactivityTimeout,
    FtpFailure::ConnectionLost,
    FtpFailure::NoServer,
    FtpFailure::Suspended,
    FtpFailure::NothingToResume,
    FtpFailure::HostLeft,
    FtpFailure::Untrusted,
    FtpFailure::NameMismatch,
    FtpFailure::Expired,
    FtpFailure::SecurityProfile,
    FtpFailure::ResumeBeyondEnd,
];

impl FtpFailure {
    /// The cause in a few words, as a report prints it.
    pub fn describe(self) -> String {
        let text = match self {
            FtpFailure::ServerReply(code) => {
                return match reply_meaning(code) {
                    Some(m) => format!("the server replied {code} ({m})"),
                    None => format!("the server replied {code}"),
                };
            }
            FtpFailure::NotLoggedIn => "not logged in (no FTP session)",
            FtpFailure::Busy => "another FTP operation was running",
            FtpFailure::Dns => "the server name did not resolve",
            FtpFailure::ConnectionRefused => "the server refused the connection",
            FtpFailure::Timeout => "a connect, reply or data timer ran out",
            FtpFailure::Tls => "TLS failed",
            FtpFailure::NoActiveContext => "the PDP context was not active",
            FtpFailure::FileSystemFull => "the module file system was full",
            FtpFailure::LocalFile => "the module file was missing or unusable",
            FtpFailure::InactivityTimeout => "the session was closed after inactivity",
            FtpFailure::ConnectionLost => "the connection broke",
            FtpFailure::NoServer => "the profile names no server",
            FtpFailure::Suspended => "the FOTA download was suspended",
            FtpFailure::NothingToResume => "there was no download to resume",
            FtpFailure::HostLeft => "the host left the direct link early",
            FtpFailure::Untrusted => "the server's certificate is not trusted",
            FtpFailure::NameMismatch => "the server's certificate names another host",
            FtpFailure::Expired => "the server's certificate is expired or not yet valid",
            FtpFailure::SecurityProfile => "the security profile names a missing certificate",
            FtpFailure::ResumeBeyondEnd => "the resume offset is beyond the remote file's end",
        };
        text.to_string()
    }
}

/// What `+UFTPER: <class>,<code>` means, in words (`0,0`: no error).
pub fn describe(class: u32, code: u32) -> String {
    match (class, code) {
        (0, 0) => "no error".to_string(),
        (0, code) => match u16::try_from(code) {
            Ok(code) => FtpFailure::ServerReply(code).describe(),
            Err(_) => format!("the server replied {code}"),
        },
        (LOCAL_CLASS, _) => LOCAL_CAUSES
            .iter()
            .find(|f| f.class_code() == (class, code))
            .map_or_else(
                || "a cause this module does not have".to_string(),
                |f| f.describe(),
            ),
        _ => "a class this module does not have".to_string(),
    }
}

/// What an FTP reply code says (RFC 959, RFC 2228 and RFC 4217 for the TLS ones).
fn reply_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        421 => "service not available",
        425 => "cannot open the data connection",
        426 => "transfer aborted",
        430 => "bad user or password",
        450 => "file busy",
        451 => "local error on the server",
        452 => "insufficient storage",
        500 => "command not understood",
        501 => "bad parameters",
        502 => "command not implemented",
        503 => "bad sequence of commands",
        504 => "parameter not implemented",
        522 => "data connection refused: TLS session not resumed",
        530 => "not logged in",
        532 => "an account is needed",
        534 => "refused by policy",
        550 => "file unavailable",
        551 => "page type unknown",
        552 => "storage allocation exceeded",
        553 => "file name not allowed",
        _ => return None,
    })
}

/// The finer cause of a rejected server certificate, from rustls's description of it. The name
/// check comes first and looks for a phrase with spaces: its message quotes host names, which
/// have none, so a host called "expired" cannot pass for a date problem.
fn certificate_failure(why: &str) -> FtpFailure {
    let why = why.to_ascii_lowercase();
    if why.contains("valid for name") || why.contains("notvalidforname") {
        FtpFailure::NameMismatch
    } else if why.contains("expired")
        || why.contains("not valid yet")
        || why.contains("notvalidyet")
    {
        FtpFailure::Expired
    } else if why.contains("issuer") {
        FtpFailure::Untrusted
    } else {
        FtpFailure::Tls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_as_words() {
        assert_eq!(describe(0, 0), "no error");
        assert_eq!(
            describe(0, 550),
            "the server replied 550 (file unavailable)"
        );
        assert_eq!(describe(1, 7), "the PDP context was not active");
        let codes: std::collections::HashSet<_> =
            LOCAL_CAUSES.iter().map(|f| f.class_code()).collect();
        assert_eq!(codes.len(), LOCAL_CAUSES.len());
        assert_eq!(describe(1, 99), "a cause this module does not have");
    }

    #[test]
    fn every_local_cause_has_its_own_code() {
        let all = LOCAL_CAUSES;
        let codes: std::collections::HashSet<_> = all.iter().map(|f| f.class_code()).collect();
        // rustls's own words for the certificate failures map to the finer codes.
        use rustls::CertificateError as E;
        assert_eq!(
            certificate_failure(&E::UnknownIssuer.to_string()),
            FtpFailure::Untrusted
        );
        assert_eq!(
            certificate_failure(&E::NotValidForName.to_string()),
            FtpFailure::NameMismatch
        );
        assert_eq!(
            certificate_failure(&E::Expired.to_string()),
            FtpFailure::Expired
        );
        assert_eq!(
            certificate_failure(&E::NotValidYet.to_string()),
            FtpFailure::Expired
        );
        assert_eq!(
            certificate_failure(&E::BadSignature.to_string()),
            FtpFailure::Tls
        );
        assert_eq!(codes.len(), all.len());
        assert_eq!(FtpFailure::ServerReply(550).class_code(), (0, 550));
    }
}
