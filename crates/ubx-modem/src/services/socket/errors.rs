//! `+USOER`: the last socket error, one table. The module reports BSD `errno` numbers
//! (internet-suite.md §2.8; the vendor's table itself is not public): these are the ones the
//! socket service gives, each with its cause. docs/FIDELITY.md lists them.

use std::io;

use crate::services::toolkit::slot::LastError;

/// Why a socket command or a socket failed, as `+USOER` and `+USOCTL=<s>,1` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// A parameter out of range, or a command that does not fit the socket (EINVAL).
    Invalid,
    /// No such socket open (EBADF).
    BadSocket,
    /// Every socket is in use (EMFILE).
    NoSocketLeft,
    /// The send buffer is full: try again (EAGAIN).
    WouldBlock,
    /// The local port is taken (EADDRINUSE).
    AddressInUse,
    /// Not connected, or the peer has closed (ENOTCONN).
    NotConnected,
    /// Already connected (EISCONN).
    AlreadyConnected,
    /// The peer refused the connection (ECONNREFUSED).
    Refused,
    /// The peer reset the connection (ECONNRESET).
    Reset,
    /// The connect timed out (ETIMEDOUT).
    TimedOut,
    /// No route: the bearer is down or the address unreachable (EHOSTUNREACH).
    Unreachable,
    /// The name could not be resolved (a `getaddrinfo` failure has no errno; EHOSTUNREACH as
    /// for an unreachable host).
    Unresolved,
    /// The security profile cannot be used, or the TLS handshake failed (EACCES).
    Tls,
    /// DTLS on a UDP socket: not available (EPROTONOSUPPORT).
    NoDtls,
    /// The operation is not supported for this socket type (EOPNOTSUPP).
    NotSupported,
}

impl SocketError {
    /// The `errno` `+USOER` prints.
    pub fn errno(self) -> u32 {
        match self {
            SocketError::Invalid => 22,
            SocketError::BadSocket => 9,
            SocketError::NoSocketLeft => 24,
            SocketError::WouldBlock => 11,
            SocketError::AddressInUse => 98,
            SocketError::NotConnected => 107,
            SocketError::AlreadyConnected => 106,
            SocketError::Refused => 111,
            SocketError::Reset => 104,
            SocketError::TimedOut => 110,
            SocketError::Unreachable | SocketError::Unresolved => 113,
            SocketError::Tls => 13,
            SocketError::NoDtls => 93,
            SocketError::NotSupported => 95,
        }
    }

    /// The error a failed I/O call on a socket stands for.
    pub fn from_io(e: &io::Error) -> SocketError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => SocketError::Refused,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => SocketError::Reset,
            io::ErrorKind::TimedOut => SocketError::TimedOut,
            io::ErrorKind::AddrInUse => SocketError::AddressInUse,
            io::ErrorKind::NotConnected | io::ErrorKind::BrokenPipe => SocketError::NotConnected,
            io::ErrorKind::WouldBlock => SocketError::WouldBlock,
            io::ErrorKind::InvalidData => SocketError::Tls,
            _ => SocketError::Unreachable,
        }
    }
}

impl LastError for SocketError {
    /// Class 0 (the socket service has one class), code the errno.
    fn class_code(&self) -> (u32, u32) {
        (0, self.errno())
    }
}
