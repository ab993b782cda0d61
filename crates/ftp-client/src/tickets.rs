//! A TLS session store that knows how many TLS 1.3 tickets it holds.
//!
//! # Why FTPS over TLS 1.3 needs to count tickets
//!
//! Reuse-checking servers accept a TLS data connection only if its handshake resumes a
//! session. With TLS 1.2 the client re-offers the control connection's session on every
//! data connection, forever. With TLS 1.3 resumption uses *tickets*, and rustls uses each
//! ticket once. The server sends two tickets after a full handshake (the control
//! connection) and, on a resumed connection, OpenSSL-based servers send a new ticket only
//! once they write application data on it. So a download (RETR, LIST) uses one ticket and
//! brings one back, but an upload (STOR, APPE) only uses one. Measured against
//! proftpd 1.3.8 (reuse required by default): with TLS 1.3 every 4th transfer of an
//! alternating STOR/RETR series was refused with `425 Unable to build data connection:
//! Operation not permitted` ("client did not reuse TLS session"), every 3rd of a
//! STOR-only series.
//!
//! The session therefore counts the tickets held for its server and, when none is left
//! before a TLS 1.3 data connection, first *refills*: it opens one extra data connection
//! (`NLST`) whose handshake is necessarily a full one. A reuse-checking server refuses it
//! (`425`) but has already sent two fresh tickets on it; a server that does not check
//! simply answers the listing, and the session stops refilling because it is not needed
//! there. TLS 1.2 (the default FTPS policy, see [`tls`](crate::tls)) never needs this.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::NamedGroup;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;

/// Tickets kept per server by the inner cache (rustls' own limit).
const MAX_TICKETS: usize = 8;

/// rustls' in-memory session cache plus a count of TLS 1.3 tickets. One store serves
/// one FTP session, i.e. one server name.
#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: ClientSessionMemoryCache,
    tls13_tickets: AtomicUsize,
}

impl CountingStore {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CountingStore {
            inner: ClientSessionMemoryCache::new(16),
            tls13_tickets: AtomicUsize::new(0),
        })
    }

    /// TLS 1.3 tickets currently held (an upper bound: expired ones are counted until
    /// rustls takes and drops them).
    pub(crate) fn tls13_tickets(&self) -> usize {
        self.tls13_tickets.load(Ordering::Relaxed)
    }
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.inner.insert_tls13_ticket(server_name, value);
        let _ = self
            .tls13_tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some((n + 1).min(MAX_TICKETS))
            });
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        let ticket = self.inner.take_tls13_ticket(server_name);
        let _ = self
            .tls13_tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(if ticket.is_some() {
                    n.saturating_sub(1)
                } else {
                    0
                })
            });
        ticket
    }
}
