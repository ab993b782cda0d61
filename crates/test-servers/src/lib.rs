//! Real FTP servers on loopback for tests, and a scripted fake server for faults.
//!
//! The FTP client is only as good as the servers it was tested against, and FTP servers differ
//! in exactly the places where clients break: TLS session reuse on data connections (vsftpd and
//! proftpd refuse a data connection whose TLS session is not resumed from the control
//! connection), reply codes for the same situation, `ACCT` support, EPRT, LIST of a single file.
//! So tests start *real* servers, each one a fresh private instance:
//!
//! * on loopback (`127.0.0.1`, or `::1` with [`ServerOptions::ipv6`]),
//! * on a control port and a passive-port range picked at run time from a block that is locked
//!   for the lifetime of the instance (see [`ports`](crate::RunningServer::passive_ports)), so any
//!   number of tests can run in parallel threads and processes without colliding,
//! * serving a fresh temporary directory ([`RunningServer::root`]) that the test can fill and
//!   inspect directly on disk,
//! * optionally with explicit FTPS (`AUTH TLS`) using one self-signed certificate per machine
//!   ([`RunningServer::cert_pem`], valid for `localhost`, `127.0.0.1` and `::1`, webpki-compatible),
//! * stopped (killed and reaped) when the [`RunningServer`] is dropped.
//!
//! | [`Kind`] | how it runs | login ([`RunningServer::user`]) | notes |
//! |---|---|---|---|
//! | [`Kind::Vsftpd`] | `/usr/sbin/vsftpd` (apt) | system user `ftptest` / `secret` (PAM) | refuses a TLS data connection that does not resume the control session: `522` (`require_ssl_reuse=YES`); no MLST (500), ACCT → 502; a failed login takes ~2 s (PAM delay) |
//! | [`Kind::PureFtpd`] | unpacked under the prefix | `test` / `secret` (virtual user) | ACCT → 202, `AUTH SSL` → 500 |
//! | [`Kind::Proftpd`] | unpacked under the prefix | `test` / `secret` (AuthUserFile) | refuses a non-resumed TLS data session: `425` (default reuse check); lingering close: sends `226` / answers the next command only after the client closed its end of the data connection (or after 10 s) |
//! | [`Kind::Pyftpdlib`] | python3 venv under the prefix, script `py/ftpd.py` | `test` / `secret`; plus `acctuser` / `secret` that needs `ACCT acme` (332) | the only real server with ACCT; connects at PORT/EPRT time (425 if nobody listens yet) |
//! | [`Kind::Libunftp`] | in-process on its own thread | `test` / `secret` | no EPRT, LIST of a file → 550, never requires TLS reuse, TLS 1.2 only; cannot be paused |
//!
//! On `::1` only EPSV/EPRT are usable, and PASV answers differ: vsftpd `227 (0,0,0,0,p1,p2)`,
//! pure-ftpd `425 … Use EPSV`, proftpd a malformed `227 Entering Passive Mode (1,111,84).`,
//! pyftpdlib `227 … (::1,p1,p2).`, and libunftp drops the control connection without a reply.
//!
//! vsftpd checks named users through PAM against system accounts, so its login is the system
//! user `ftptest` that `scripts/install-test-deps` creates, jailed into each instance's own root.
//!
//! The external servers are installed by `scripts/install-test-deps` (vsftpd with apt, the other
//! Debian servers unpacked under `/opt/ubxftp-test/servers`, pyftpdlib in `/opt/ubxftp-test/venv`;
//! the prefix can be moved with the `UBXFTP_TEST_PREFIX` environment variable). A missing binary is
//! an error from [`start`], never a silent skip.
//!
//! Faults that real servers cannot be made to produce on demand (a reply cut in the middle, a data
//! connection dropped at byte N, a `227` naming a foreign host, a `332` from a server without
//! `ACCT`, garbage) come from the scripted fake server in [`fake`].
//!
//! For the module's socket service there are plain socket peers in [`sockets`]: TCP, UDP and TLS
//! echo servers and a client that connects to a socket the module listens on.
//!
//! For transcripts ([`ubx_transcript`]) there is [`transcript::Environment`]: what a
//! transcript's header asks for (`# ftp-server:`, `# socket-servers: echo`, ...), started, with
//! the values of its placeholders; the test suite and `ubxftp script` both use it.
//!
//! For the module's HTTP client service there is an HTTP/1.1 server in [`http`] (plain or HTTPS,
//! files in memory, recorded requests, fault paths), and Python's `http.server` as an
//! independent reference ([`http::python_http_server`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), test_servers::Error> {
//! use test_servers::{Kind, ServerOptions, start};
//! let server = start(Kind::Vsftpd, ServerOptions { tls: true, ..Default::default() }).await?;
//! std::fs::write(server.root.join("hello.txt"), b"hi")?;
//! // connect a client to server.addr, log in with server.user / server.password,
//! // trust server.cert_pem, RETR hello.txt ...
//! # Ok(()) }
//! ```

pub mod fake;
pub mod http;
pub mod mqtt;
mod pki;
mod ports;
mod process;
mod servers;
pub mod sockets;
mod tls;
pub mod transcript;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use tls::TlsFiles;

/// Which FTP server implementation to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// vsftpd 3.0.3 from Debian (apt). Strict TLS session reuse.
    Vsftpd,
    /// pure-ftpd 1.0.50 from Debian (unpacked).
    PureFtpd,
    /// proftpd 1.3.8 from Debian (unpacked, with mod_tls). Strict TLS session reuse.
    Proftpd,
    /// pyftpdlib 2.2.0 from PyPI, with an `ACCT` extension.
    Pyftpdlib,
    /// libunftp 0.24 running inside the test process.
    Libunftp,
}

impl Kind {
    /// Every kind, for tests that loop over all servers.
    pub const ALL: [Kind; 5] = [
        Kind::Vsftpd,
        Kind::PureFtpd,
        Kind::Proftpd,
        Kind::Pyftpdlib,
        Kind::Libunftp,
    ];

    /// Short lowercase name (`"vsftpd"`, `"pure-ftpd"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Vsftpd => "vsftpd",
            Kind::PureFtpd => "pure-ftpd",
            Kind::Proftpd => "proftpd",
            Kind::Pyftpdlib => "pyftpdlib",
            Kind::Libunftp => "libunftp",
        }
    }

    /// Whether the server refuses TLS data connections that do not resume the control
    /// connection's TLS session (vsftpd `require_ssl_reuse`, proftpd's default).
    pub fn requires_tls_session_reuse(self) -> bool {
        matches!(self, Kind::Vsftpd | Kind::Proftpd)
    }

    /// Whether [`RunningServer::pause`] / [`RunningServer::resume`] work (external processes only).
    pub fn can_pause(self) -> bool {
        !matches!(self, Kind::Libunftp)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a server. `Default` is plain FTP on `127.0.0.1`.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Offer explicit FTPS (`AUTH TLS`), optional for the client: plain logins still work and
    /// `PROT C` is allowed. The certificate is [`RunningServer::cert_pem`].
    pub tls: bool,
    /// Listen on `::1` instead of `127.0.0.1`. Use EPSV/EPRT: over IPv6 PASV/PORT are refused or
    /// answered with useless addresses, depending on the server.
    pub ipv6: bool,
    /// Idle timeout of a control connection (server side). `None` = 120 s. pure-ftpd counts in
    /// whole minutes (rounded up); the others in seconds.
    pub idle_timeout: Option<Duration>,
    /// Where the unpacked servers and the venv are; `None` = [`install_prefix()`]. (vsftpd is
    /// always `/usr/sbin/vsftpd`.)
    pub install_prefix: Option<PathBuf>,
    /// With `tls`: demand a client certificate that chains to the root(s) in this PEM file, and
    /// refuse the TLS handshake without one (vsftpd only: `require_cert`, `validate_cert`).
    pub client_ca_pem: Option<PathBuf>,
    /// With `tls`: serve this certificate (PEM, leaf first) and key (PEM) instead of the
    /// machine-wide self-signed one — a test's own PKI (an expired leaf, another host's).
    /// [`RunningServer::cert_pem`] is then this certificate file.
    pub server_cert: Option<(PathBuf, PathBuf)>,
}

/// A second login that needs `ACCT` (only [`Kind::Pyftpdlib`]): `USER`, `PASS` → `332`,
/// `ACCT <account>` → `230`. A wrong account gets `530`.
#[derive(Clone)]
pub struct AccountLogin {
    pub user: String,
    pub password: String,
    pub account: String,
}

impl fmt::Debug for AccountLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountLogin")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("account", &self.account)
            .finish()
    }
}

/// Errors from starting or controlling a server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A server binary (or the python venv) is not installed.
    #[error("{what} not found at {path}: run scripts/install-test-deps (as root)")]
    NotInstalled { what: &'static str, path: PathBuf },
    /// An I/O step of the setup failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The server did not come up (exited, or no `220` greeting in time). `log` holds what it
    /// wrote to its log files.
    #[error("{kind} did not start: {reason}\n--- server log ---\n{log}")]
    NotReady {
        kind: Kind,
        reason: String,
        log: String,
    },
    /// A helper command used during setup failed (openssl, pure-pw …).
    #[error("{0}")]
    Setup(String),
    /// No free port block could be locked.
    #[error("no free port block: {0}")]
    NoPorts(String),
    /// The operation is not possible for this kind of server.
    #[error("{op} is not supported for {kind}")]
    Unsupported { op: &'static str, kind: Kind },
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io {
            context: "I/O".into(),
            source,
        }
    }
}

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where `scripts/install-test-deps` put the servers: `$UBXFTP_TEST_PREFIX`, default
/// `/opt/ubxftp-test`.
pub fn install_prefix() -> PathBuf {
    std::env::var_os("UBXFTP_TEST_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/ubxftp-test"))
}

/// A running server instance. Dropping it kills the server (the whole process group) and
/// removes its temporary directory.
pub struct RunningServer {
    /// Which server this is.
    pub kind: Kind,
    /// The control connection address (`127.0.0.1:port` or `[::1]:port`).
    pub addr: SocketAddr,
    /// The login name (see the table in the crate docs: `ftptest` for vsftpd, else `test`).
    pub user: String,
    /// The password (`secret`).
    pub password: String,
    /// The `ACCT` login, where the server has one ([`Kind::Pyftpdlib`]).
    pub account_login: Option<AccountLogin>,
    /// The directory the user sees as `/` after login (writable; uploads land here).
    pub root: PathBuf,
    /// PEM file with the self-signed server certificate when started with `tls`; a client
    /// that trusts it as its only root verifies `localhost`, `127.0.0.1` and `::1`.
    pub cert_pem: Option<PathBuf>,
    /// The server's log files (protocol logs, stderr …) for debugging.
    pub logs: Vec<PathBuf>,
    /// The passive data port range the server was configured with (reserved for it).
    pub passive_ports: RangeInclusive<u16>,
    pub(crate) file_owner: Option<(u32, u32)>,
    pub(crate) inner: servers::Handle,
    pub(crate) _ports: ports::PortBlock,
    pub(crate) _dir: tempfile::TempDir,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("kind", &self.kind)
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("account_login", &self.account_login)
            .field("root", &self.root)
            .field("cert_pem", &self.cert_pem)
            .field("logs", &self.logs)
            .field("passive_ports", &self.passive_ports)
            .field("pid", &self.pid())
            .finish()
    }
}

impl RunningServer {
    /// The listening IP (`127.0.0.1` or `::1`).
    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    /// The server's process id (the process group leader), `None` for libunftp.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    /// Freeze the server with `SIGSTOP` (whole process group, so open sessions stall too):
    /// connections stay open but nothing is answered. Not supported for libunftp.
    pub fn pause(&self) -> Result<()> {
        self.inner
            .signal(self.kind, "pause", nix::sys::signal::Signal::SIGSTOP)
    }

    /// Undo [`pause`](Self::pause) with `SIGCONT`.
    pub fn resume(&self) -> Result<()> {
        self.inner
            .signal(self.kind, "resume", nix::sys::signal::Signal::SIGCONT)
    }

    /// Kill the server now (`SIGKILL` to the process group, then reap; for libunftp: stop its
    /// runtime, which drops every connection). Open connections see EOF/RST mid-transfer.
    /// Idempotent.
    pub fn kill(&mut self) {
        self.inner.kill();
    }

    /// Write a file under [`root`](Self::root) (`relative` may contain `/`; parent directories
    /// are created), owned by the account the server runs sessions as, so the server can also
    /// overwrite, rename and delete it. Returns the absolute path.
    pub fn put_file(&self, relative: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let relative = Path::new(relative.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::Setup(format!(
                "put_file: {} must be a plain relative path",
                relative.display()
            )));
        }
        let path = self.root.join(relative);
        let mut created = Vec::new();
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || d.exists() {
                break;
            }
            created.push(d.to_path_buf());
            dir = d.parent();
        }
        for d in created.iter().rev() {
            std::fs::create_dir(d).map_err(io_err(format!("mkdir {}", d.display())))?;
        }
        std::fs::write(&path, contents).map_err(io_err(format!("write {}", path.display())))?;
        if let Some((uid, gid)) = self.file_owner {
            for p in created.iter().chain(std::iter::once(&path)) {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .map_err(io_err(format!("chown {}", p.display())))?;
            }
        }
        Ok(path)
    }

    /// Everything the server wrote to its log files so far (for assertions and debugging).
    pub fn read_logs(&self) -> String {
        process::read_logs(&self.logs)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.inner.kill();
    }
}

/// Start a server; returns once it has sent its `220` greeting on [`RunningServer::addr`].
///
/// The blocking work (spawning, waiting for readiness) runs on tokio's blocking pool, so this
/// can be awaited from any runtime flavour, including `#[tokio::test]`'s current-thread one.
pub async fn start(kind: Kind, opts: ServerOptions) -> Result<RunningServer> {
    match tokio::task::spawn_blocking(move || start_blocking(kind, opts)).await {
        Ok(result) => result,
        Err(join) => Err(Error::Setup(format!("start task failed: {join}"))),
    }
}

/// Blocking version of [`start`] for code that is not inside an async context.
pub fn start_blocking(kind: Kind, opts: ServerOptions) -> Result<RunningServer> {
    let ip: IpAddr = if opts.ipv6 {
        Ipv6Addr::LOCALHOST.into()
    } else {
        Ipv4Addr::LOCALHOST.into()
    };
    servers::start(kind, &opts, ip)
}

/// The machine-wide self-signed certificate used by the TLS variants (generated with openssl on
/// first use and cached in the temp dir). Useful for clients that want the PEM before starting
/// a server.
pub fn tls_files() -> Result<TlsFiles> {
    tls::tls_files()
}
