//! A socket's buffers, shared by the commands and the socket's I/O tasks: bounded both ways, so
//! a peer that sends faster than the host reads is slowed by TCP itself (the reader stops when
//! the receive buffer is full) and never grows memory.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::services::socket::errors::SocketError;

/// One received UDP datagram.
#[derive(Debug)]
pub struct Datagram {
    pub from: SocketAddr,
    pub data: Vec<u8>,
}

/// What the buffers hold.
#[derive(Debug, Default)]
pub struct Buffers {
    /// TCP: received bytes the host has not read.
    pub rx: VecDeque<u8>,
    /// UDP: received datagrams the host has not read, and their bytes.
    pub datagrams: VecDeque<Datagram>,
    pub datagram_bytes: usize,
    /// TCP: bytes `+USOWR` accepted and the writer has not sent yet.
    pub tx: VecDeque<u8>,
    /// The peer closed (TCP FIN) or the connection failed: nothing more arrives.
    pub ended: bool,
    /// Why the connection failed, if it did.
    pub failure: Option<SocketError>,
    /// Bytes sent to the peer (`+USOCTL` 2) and read by the host (`+USOCTL` 3).
    pub sent: u64,
    pub read: u64,
    /// The host asked to close: the writer sends what is left, then shuts down.
    pub closing: bool,
    /// A direct link (`+USODL`) carries the data: no `+UUSORD`.
    pub linked: bool,
}

impl Buffers {
    /// Bytes waiting for the host.
    pub fn available(&self) -> usize {
        self.rx.len() + self.datagram_bytes
    }
}

/// A socket's live side: its buffers, the wake-ups of its tasks, and the tasks themselves.
#[derive(Debug, Default)]
pub struct Io {
    buffers: Mutex<Buffers>,
    /// The reader: room in the receive buffer.
    pub room: Notify,
    /// The writer: bytes to send, or a close.
    pub outgoing: Notify,
    /// A direct link: bytes arrived, or the peer ended.
    pub incoming: Notify,
    /// A direct link: the writer made room in the send buffer.
    pub drained: Notify,
    tasks: Mutex<Vec<AbortHandle>>,
    writer: Mutex<Option<AbortHandle>>,
    /// The UDP socket, for sends from the command itself.
    pub udp: Option<Arc<UdpSocket>>,
}

impl Io {
    pub fn new(udp: Option<Arc<UdpSocket>>) -> Io {
        Io {
            udp,
            ..Io::default()
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Buffers> {
        self.buffers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a task so that closing the socket ends it.
    pub fn keep(&self, task: AbortHandle) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Keeps the writer, which a close lets finish and a reset ends.
    pub fn keep_writer(&self, task: AbortHandle) {
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// The host closes: reading stops at once, the writer sends what is left and shuts down.
    pub fn close(&self) {
        self.lock().closing = true;
        self.outgoing.notify_one();
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Ends every task of the socket at once (a lost bearer, a reboot).
    pub fn abort(&self) {
        self.close();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            writer.abort();
        }
    }
}
