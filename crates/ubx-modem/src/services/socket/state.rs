//! The socket service's part of the module state: the sockets by id, and the last error.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::module::ids::TerminalId;
use crate::services::socket::buffers::Io;

/// TCP or UDP (`+USOCR`'s `<protocol>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The protocol number `+USOCTL=<s>,0` prints.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// Where a socket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Connecting,
    Connected,
    Listening,
}

/// One module socket.
#[derive(Debug)]
pub struct Socket {
    pub protocol: Protocol,
    pub local_port: Option<u16>,
    pub status: Status,
    /// The peer (TCP), or the default destination (UDP after `+USOCO`).
    pub remote: Option<SocketAddr>,
    /// `+USOSEC`: the security profile of a TLS socket.
    pub secure: Option<u8>,
    /// `+USOSO` values by (level, option).
    pub options: BTreeMap<(i64, i64), Vec<i64>>,
    /// The terminal whose URCs this socket's events are.
    pub owner: TerminalId,
    /// The live side once connected, bound or listening.
    pub io: Option<Arc<Io>>,
    /// The socket's last error (`+USOCTL=<s>,1`).
    pub last_error: u32,
}

impl Socket {
    pub fn new(protocol: Protocol, local_port: Option<u16>, owner: TerminalId) -> Socket {
        Socket {
            protocol,
            local_port,
            status: Status::Created,
            remote: None,
            secure: None,
            options: BTreeMap::new(),
            owner,
            io: None,
            last_error: 0,
        }
    }
}

/// Every socket of the module.
#[derive(Debug, Default)]
pub struct SocketState {
    pub sockets: BTreeMap<u8, Socket>,
    /// `+USOER`: the errno of the last socket operation.
    pub last_error: u32,
}

impl SocketState {
    /// A reboot: every socket is gone, its tasks ended.
    pub fn power_cycle(&mut self) {
        for socket in self.sockets.values() {
            if let Some(io) = &socket.io {
                io.abort();
            }
        }
        self.sockets.clear();
        self.last_error = 0;
    }
}
