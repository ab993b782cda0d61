//! Errors: every failure names either the server's reply or the local cause.
//!
//! An [`FtpError`] has a [`kind`](FtpError::kind) that says *what* failed and a flag that
//! says whether the session survived it ([`FtpError::session_closed`]). A negative server
//! reply (`550`, `530`, `522` …) leaves the session usable; a broken control connection, a
//! reply timeout or garbage from the server closes it, and every later call on the session
//! answers [`ErrorKind::Closed`].
//!
//! Errors never contain a password: the client never puts the password into any text it
//! keeps (commands are logged and stored with `PASS ****`).

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::reply::Reply;

/// Which timer ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Opening the TCP control connection.
    Connect,
    /// Waiting for a reply on the control connection (includes the greeting).
    Reply,
    /// Opening a data connection (passive connect or active accept).
    DataConnect,
    /// A data connection moved no byte for the stall timeout.
    DataStall,
    /// A TLS handshake (control or data).
    TlsHandshake,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Reply => "server reply",
            TimeoutKind::DataConnect => "data connection setup",
            TimeoutKind::DataStall => "data transfer stall",
            TimeoutKind::TlsHandshake => "TLS handshake",
        })
    }
}

/// Which connection an I/O error happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The control connection (commands and replies).
    Control,
    /// A data connection (file contents and listings).
    Data,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Control => "control connection",
            Channel::Data => "data connection",
        })
    }
}

/// Why a session is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The caller sent QUIT (or dropped a session).
    Quit,
    /// No operation for the inactivity timeout: the client sent QUIT and closed.
    Inactivity,
    /// An earlier error broke the control connection; this is its description.
    Failed(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Quit => f.write_str("closed by QUIT"),
            CloseReason::Inactivity => f.write_str("closed after the inactivity timeout"),
            CloseReason::Failed(why) => write!(f, "closed after an error: {why}"),
        }
    }
}

/// What failed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The server answered with a reply the operation cannot accept (negative, or
    /// unexpected). The reply keeps its exact code and text.
    #[error("server replied: {0}")]
    Reply(Reply),
    /// The host name could not be resolved.
    #[error("cannot resolve {host:?}: {source}")]
    Resolve {
        /// The name that was looked up.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// The resolver gave no address of an allowed family.
    #[error("{host:?} has no address of the allowed IP family")]
    NoAddress {
        /// The name that was looked up.
        host: String,
    },
    /// The peer refused the TCP connection (RST).
    #[error("connection to {0} refused")]
    ConnectRefused(SocketAddr),
    /// A timer ran out.
    #[error("{0} timed out")]
    Timeout(TimeoutKind),
    /// The TLS handshake failed for a reason other than the certificate.
    #[error("TLS handshake failed on the {channel}: {message}")]
    TlsHandshake {
        /// Control or data.
        channel: Channel,
        /// What rustls reported.
        message: String,
    },
    /// The server's certificate was rejected by the configured verification.
    #[error("server certificate rejected: {0}")]
    Certificate(String),
    /// A socket operation failed.
    #[error("I/O error on the {channel}: {source}")]
    Io {
        /// Control or data.
        channel: Channel,
        /// The operating system's error.
        source: io::Error,
    },
    /// Writing downloaded bytes to the caller's sink failed.
    #[error("writing to the local destination failed: {0}")]
    LocalWrite(io::Error),
    /// Reading upload bytes from the caller's source failed.
    #[error("reading the local source failed: {0}")]
    LocalRead(io::Error),
    /// The server broke the protocol: garbage instead of a reply, an unparsable
    /// PASV/EPSV answer, an oversized reply, a connection closed mid-reply …
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The caller passed an argument that cannot be sent (CR, LF or NUL in it, an
    /// empty name …). Nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A TLS option could not be turned into a configuration (bad PEM, bad key …).
    #[error("invalid TLS configuration: {0}")]
    TlsConfig(String),
    /// The client stopped a transfer before its end (`ABOR` was sent), e.g.
    /// [`Download::finish`](crate::Download::finish) before the end of the data. The
    /// session stays usable.
    #[error("transfer aborted before its end (server: {0})")]
    Aborted(Reply),
    /// The session is closed; no command was sent.
    #[error("session {0}")]
    Closed(CloseReason),
}

/// An FTP operation failed. See the [module docs](self).
#[derive(Debug)]
pub struct FtpError {
    kind: ErrorKind,
    session_closed: bool,
}

impl FtpError {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        let session_closed = matches!(kind, ErrorKind::Closed(_));
        FtpError {
            kind,
            session_closed,
        }
    }

    pub(crate) fn with_session_closed(mut self) -> Self {
        self.session_closed = true;
        self
    }

    /// What failed.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error and returns what failed.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// The server's reply code when a reply caused the failure (`550`, `530`, `522` …).
    pub fn reply_code(&self) -> Option<u16> {
        self.reply().map(Reply::code)
    }

    /// The server's reply when a reply caused the failure.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.kind {
            ErrorKind::Reply(r) => Some(r),
            _ => None,
        }
    }

    /// `true` when the session can no longer be used (the control connection is closed);
    /// `false` when the session is still logged in and can take the next command.
    pub fn session_closed(&self) -> bool {
        self.session_closed
    }

    /// `true` for a timeout of the given kind.
    pub fn is_timeout(&self, which: TimeoutKind) -> bool {
        matches!(self.kind, ErrorKind::Timeout(k) if k == which)
    }

    /// Whether this error leaves the control connection in an unknown state, so the
    /// session must be closed.
    pub(crate) fn breaks_control(&self) -> bool {
        match &self.kind {
            ErrorKind::Reply(r) => r.code() == 421,
            ErrorKind::Io { channel, .. } | ErrorKind::TlsHandshake { channel, .. } => {
                *channel == Channel::Control
            }
            ErrorKind::Timeout(k) => matches!(k, TimeoutKind::Reply | TimeoutKind::Connect),
            ErrorKind::Protocol(_) | ErrorKind::Closed(_) => true,
            ErrorKind::Certificate(_) => true,
            ErrorKind::Resolve { .. }
            | ErrorKind::NoAddress { .. }
            | ErrorKind::ConnectRefused(_)
            | ErrorKind::LocalWrite(_)
            | ErrorKind::LocalRead(_)
            | ErrorKind::InvalidArgument(_)
            | ErrorKind::Aborted(_)
            | ErrorKind::TlsConfig(_) => false,
        }
    }
}

impl fmt::Display for FtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.session_closed && !matches!(self.kind, ErrorKind::Closed(_)) {
            f.write_str(" (session closed)")?;
        }
        Ok(())
    }
}

impl std::error::Error for FtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

impl From<ErrorKind> for FtpError {
    fn from(kind: ErrorKind) -> Self {
        FtpError::new(kind)
    }
}

impl From<Reply> for FtpError {
    fn from(reply: Reply) -> Self {
        FtpError::new(ErrorKind::Reply(reply))
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = FtpError> = std::result::Result<T, E>;
