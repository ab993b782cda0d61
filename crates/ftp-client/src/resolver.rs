//! Name resolution, injected by the caller.
//!
//! The client never calls the system resolver by itself: a session gets an
//! `Arc<dyn Resolver>` in its [`ConnectOptions`](crate::ConnectOptions). The default,
//! [`SystemResolver`], asks the operating system (`getaddrinfo` through tokio). An
//! emulator can inject its own resolver (for example one that answers from a table, or
//! one that honours an emulated DNS configuration) without the FTP code knowing.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// A boxed future, as returned by [`Resolver::resolve`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a host name into IP addresses.
///
/// Implementations return every address they know; the client orders them by the
/// session's [`IpPreference`](crate::IpPreference) and tries them in turn.
pub trait Resolver: Send + Sync {
    /// Resolves `host` (a DNS name, never an IP literal: literals are used directly).
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, via [`tokio::net::lookup_host`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}

/// A resolver that answers from a fixed table; handy in tests and for pinned hosts.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    entries: Vec<(String, Vec<IpAddr>)>,
}

impl StaticResolver {
    /// An empty table: every name fails with `NotFound`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or extends) the entry for `host` (compared case-insensitively).
    pub fn with(mut self, host: &str, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        let host = host.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(h, _)| *h == host) {
            Some((_, list)) => list.extend(ips),
            None => self.entries.push((host, ips.into_iter().collect())),
        }
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let host = host.to_ascii_lowercase();
        let found = self
            .entries
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, ips)| ips.clone());
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown host"))
        })
    }
}
