//! Everything a session is configured with, and the password type that keeps secrets
//! out of logs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::data::DataMode;
use crate::resolver::{Resolver, SystemResolver};
use crate::tls::TlsOptions;

/// A password. It has no `Display`, and its `Debug` prints `****`, so it cannot end
/// up in an error message, a log line or a trace by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself, for the one place that sends it (`PASS`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password::new(s)
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password::new(s)
    }
}

/// Which IP family to use when a host name resolves to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpPreference {
    /// Try IPv4 addresses first, then IPv6 (the module's default).
    #[default]
    PreferV4,
    /// Try IPv6 addresses first, then IPv4.
    PreferV6,
    /// Only IPv4.
    V4Only,
    /// Only IPv6.
    V6Only,
}

/// Timers of a session. `None` disables a timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the control connection (per address tried), a data connection, and a
    /// TLS handshake. Default 30 s.
    pub connect: Duration,
    /// Waiting for any reply on the control connection. Default 30 s.
    pub reply: Duration,
    /// A data connection that moves no byte for this long fails with
    /// [`TimeoutKind::DataStall`](crate::TimeoutKind::DataStall). Default 30 s.
    pub data_stall: Option<Duration>,
    /// With no operation for this long, the session sends QUIT and closes; the next
    /// operation reports [`CloseReason::Inactivity`](crate::CloseReason::Inactivity).
    /// `None` or zero: never. Default `None`.
    pub inactivity: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            reply: Duration::from_secs(30),
            data_stall: Some(Duration::from_secs(30)),
            inactivity: None,
        }
    }
}

/// Linger times (see [the stream module](crate::stream) for how they are emulated
/// without blocking). Zero means "not set": a plain graceful close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Linger {
    /// For the control connection.
    pub control: Duration,
    /// For data connections.
    pub data: Duration,
}

/// Size limits that protect the client from a misbehaving server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest reply accepted on the control connection (all lines). Default 64 KiB.
    pub max_reply_bytes: usize,
    /// Longest LIST/NLST output kept; more is cut off and the listing marked
    /// truncated. Default 1 MiB.
    pub max_listing_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_reply_bytes: 64 * 1024,
            max_listing_bytes: 1024 * 1024,
        }
    }
}

/// How to reach and log in to a server. Build with [`ConnectOptions::new`] and adjust
/// the public fields.
#[derive(Clone)]
pub struct ConnectOptions {
    /// An IPv4 or IPv6 literal (`"192.0.2.1"`, `"::1"`, `"[::1]"`) or a host name,
    /// which is resolved through [`resolver`](Self::resolver).
    pub host: String,
    /// Control port, usually 21.
    pub port: u16,
    /// Address family order for names that resolve to both.
    pub ip_preference: IpPreference,
    /// Name sent with USER (`"anonymous"` for anonymous FTP).
    pub user: String,
    /// Sent with PASS if the server asks for it (331).
    pub password: Password,
    /// Sent with ACCT if the server asks for it (332), or after login if set.
    pub account: Option<String>,
    /// Passive (default) or active data connections.
    pub data_mode: DataMode,
    /// `Some`: explicit FTPS (`AUTH TLS`). `None`: plain FTP.
    pub tls: Option<TlsOptions>,
    /// Timers.
    pub timeouts: Timeouts,
    /// Emulated linger times.
    pub linger: Linger,
    /// Size limits.
    pub limits: Limits,
    /// Turns host names into addresses. Default: [`SystemResolver`].
    pub resolver: Arc<dyn Resolver>,
    /// Wraps every TCP connection (control and data) below TLS; `None` uses them as they are.
    pub socket_layer: Option<Arc<dyn crate::stream::SocketLayer>>,
}

impl ConnectOptions {
    /// Plain FTP, passive mode, default timers and limits, system resolver.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: impl Into<Password>,
    ) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            ip_preference: IpPreference::default(),
            user: user.into(),
            password: password.into(),
            account: None,
            data_mode: DataMode::default(),
            tls: None,
            timeouts: Timeouts::default(),
            linger: Linger::default(),
            limits: Limits::default(),
            resolver: Arc::new(SystemResolver),
            socket_layer: None,
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("ip_preference", &self.ip_preference)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("account", &self.account)
            .field("data_mode", &self.data_mode)
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .field("linger", &self.linger)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
