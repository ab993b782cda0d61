//! An MQTT broker on loopback for testing the module's MQTT client service against a real
//! broker: [`Mosquitto`] (Debian's mosquitto 2.0, installed by `scripts/install-test-deps`) as a
//! child process, plus [`publish`], [`Subscriber`] and [`subscribe_once`], which drive the broker
//! from outside the module with `mosquitto_pub` / `mosquitto_sub`.
//!
//! Every [`Mosquitto`] is a private instance:
//!
//! * listening on `127.0.0.1` only, on ports from a block locked for the lifetime of the instance
//!   (the crate's port blocks, see [`crate::RunningServer::passive_ports`]), so parallel tests and
//!   test binaries never collide, and never on the system's port 1883;
//! * configured by a file in its own temporary directory: no persistence (a restart forgets
//!   retained messages and sessions), everything logged (`log_type all`) to a file there
//!   ([`Mosquitto::log`]);
//! * ready when [`Mosquitto::start`] returns (every listener accepts TCP connections);
//! * killed (and reaped) when dropped.
//!
//! | start | listeners | clients |
//! |---|---|---|
//! | [`Mosquitto::start`] | plain MQTT on [`addr`](Mosquitto::addr) | anonymous |
//! | [`Mosquitto::start_tls`] | plain on [`addr`](Mosquitto::addr), MQTT over TLS on [`tls_addr`](Mosquitto::tls_addr): a certificate for `localhost`, `127.0.0.1` and `::1` signed by a fresh test CA ([`ca_pem`](Mosquitto::ca_pem), [`ca_file`](Mosquitto::ca_file)) | anonymous |
//! | [`Mosquitto::start_with_password`] | plain | only this user and password (`password_file` made by `mosquitto_passwd`, `allow_anonymous false`); others get CONNACK "not authorised" |
//! | [`Mosquitto::start_with`] | any combination of the above ([`MosquittoOptions`]) | |
//!
//! The client helpers take an [`Endpoint`]: a bare [`SocketAddr`] converts into one (plain,
//! anonymous), and [`Mosquitto::endpoint`] / [`Mosquitto::tls_endpoint`] carry the broker's
//! login and CA file too. A [`Subscriber`] is subscribed (SUBACK received) when
//! [`Subscriber::start`] returns, so a message published afterwards is never missed.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use test_servers::mqtt::{Mosquitto, Subscriber, publish};
//! let broker = Mosquitto::start().await?;
//! let mut sub = Subscriber::start(broker.endpoint(), "ubx/out", 1).await?;
//! // … have the module connect to broker.addr() and publish "hello" on ubx/out …
//! # publish(broker.endpoint(), "ubx/out", b"hello", 1, false).await?;
//! let msg = sub.next(Duration::from_secs(10)).await?;
//! assert_eq!(msg.payload, b"hello");
//! // … and the other way round: the module subscribed to ubx/in, the test publishes.
//! publish(broker.endpoint(), "ubx/in", b"command", 1, false).await?;
//! # Ok(()) }
//! ```

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::time::{Instant, sleep, timeout};

use crate::ports::{self, PortBlock};
use crate::process::{self, ServerProcess};
use crate::{Error, Kind, pki};

/// The broker binary (Debian package `mosquitto`).
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// The publishing client (Debian package `mosquitto-clients`).
pub const MOSQUITTO_PUB: &str = "/usr/bin/mosquitto_pub";
/// The subscribing client (Debian package `mosquitto-clients`).
pub const MOSQUITTO_SUB: &str = "/usr/bin/mosquitto_sub";
/// Makes password files (Debian package `mosquitto`).
pub const MOSQUITTO_PASSWD: &str = "/usr/bin/mosquitto_passwd";
/// coreutils' `stdbuf`: makes `mosquitto_sub` line-buffer its output into our pipe.
const STDBUF: &str = "/usr/bin/stdbuf";

/// How long a broker gets until all its listeners accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `mosquitto_pub` may take, and `mosquitto_sub` until its subscription is acknowledged.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Marks a message line in `mosquitto_sub`'s output (its `-d` debug lines share stdout).
const MESSAGE_MARK: &str = "ubxmqtt-message";

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl Login {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Login {
            user: user.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How to start a [`Mosquitto`]. `Default`: one plain listener, anonymous clients.
#[derive(Clone, Debug, Default)]
pub struct MosquittoOptions {
    /// Add an MQTT-over-TLS listener ([`Mosquitto::tls_addr`]) with a certificate from a fresh
    /// test CA ([`Mosquitto::ca_pem`]).
    pub tls: bool,
    /// Accept only this login, on every listener; `None`: anonymous clients.
    pub login: Option<Login>,
}

/// Where and how a client reaches a broker: what [`publish`], [`Subscriber`] and
/// [`subscribe_once`] connect to. A [`SocketAddr`] converts into a plain, anonymous endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// MQTT over TLS, trusting the CA certificate(s) in this PEM file (`--cafile`).
    pub ca_file: Option<PathBuf>,
    /// `-u` / `-P`.
    pub login: Option<Login>,
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint {
            addr,
            ca_file: None,
            login: None,
        }
    }
}

impl Endpoint {
    /// The connection arguments of `mosquitto_pub` / `mosquitto_sub` for this endpoint
    /// (`-h <ip> -p <port> [--cafile <file>] [-u <user> -P <password>]`), for tests and
    /// benchmarks that run the clients themselves.
    pub fn client_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-h".into(),
            self.addr.ip().to_string().into(),
            "-p".into(),
            self.addr.port().to_string().into(),
        ];
        if let Some(ca) = &self.ca_file {
            args.extend(["--cafile".into(), ca.clone().into_os_string()]);
        }
        if let Some(login) = &self.login {
            args.extend([
                "-u".into(),
                (&login.user).into(),
                "-P".into(),
                (&login.password).into(),
            ]);
        }
        args
    }
}

/// The TLS listener of a broker and the files it serves.
#[derive(Debug)]
struct TlsListener {
    addr: SocketAddr,
    ca_pem: String,
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

/// A private mosquitto broker on loopback; killed on drop. See the [module docs](self).
#[derive(Debug)]
pub struct Mosquitto {
    process: ServerProcess,
    addr: SocketAddr,
    tls: Option<TlsListener>,
    login: Option<Login>,
    config: PathBuf,
    logs: [PathBuf; 2],
    _ports: PortBlock,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// A broker with one plain listener ([`addr`](Self::addr)) for anonymous clients.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(MosquittoOptions::default()).await
    }

    /// A broker with a plain listener ([`addr`](Self::addr)) and a TLS listener
    /// ([`tls_addr`](Self::tls_addr)), anonymous clients. Trust [`ca_pem`](Self::ca_pem) /
    /// [`ca_file`](Self::ca_file).
    pub async fn start_tls() -> io::Result<Self> {
        Self::start_with(MosquittoOptions {
            tls: true,
            login: None,
        })
        .await
    }

    /// A broker with one plain listener that accepts only `user` / `password`.
    pub async fn start_with_password(user: &str, password: &str) -> io::Result<Self> {
        Self::start_with(MosquittoOptions {
            tls: false,
            login: Some(Login::new(user, password)),
        })
        .await
    }

    /// A broker as `opts` says; returns once every listener accepts connections.
    pub async fn start_with(opts: MosquittoOptions) -> io::Result<Self> {
        process::require("mosquitto", Path::new(MOSQUITTO)).map_err(to_io)?;
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let block = ports::allocate(ip).map_err(to_io)?;
        let dir = tempfile::Builder::new()
            .prefix("ubx-mosquitto-")
            .tempdir()?;
        let tls = if opts.tls {
            let tls_addr = SocketAddr::new(ip, block.control() + 1);
            Some(write_tls_files(dir.path(), tls_addr)?)
        } else {
            None
        };
        let password_file = match &opts.login {
            Some(login) => Some(write_password_file(dir.path(), login).await?),
            None => None,
        };
        let addr = SocketAddr::new(ip, block.control());
        let logs = [
            dir.path().join("mosquitto.log"),
            dir.path().join("output.log"),
        ];
        let config = dir.path().join("mosquitto.conf");
        let text = config_text(addr, tls.as_ref(), password_file.as_deref(), &logs[0]);
        std::fs::write(&config, text)?;
        let mut broker = Mosquitto {
            process: spawn(&config, &logs[1])?,
            addr,
            tls,
            login: opts.login,
            config,
            logs,
            _ports: block,
            dir,
        };
        broker.wait_ready().await?;
        Ok(broker)
    }

    /// The plain MQTT listener (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MQTT-over-TLS listener, if started with TLS.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|t| t.addr)
    }

    /// The test CA's certificate (PEM) that signed the TLS listener's certificate, if started
    /// with TLS. The certificate is valid for `localhost`, `127.0.0.1` and `::1`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// [`ca_pem`](Self::ca_pem) as a file (for `--cafile`, or a module's certificate store).
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_file.as_path())
    }

    /// The names the TLS listener's certificate is valid for.
    pub fn server_names(&self) -> &'static [&'static str] {
        &pki::SERVER_NAMES
    }

    /// The only login the broker accepts, if started with one.
    pub fn login(&self) -> Option<&Login> {
        self.login.as_ref()
    }

    /// The plain listener with the broker's login (if any), for the client helpers.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            addr: self.addr,
            ca_file: None,
            login: self.login.clone(),
        }
    }

    /// The TLS listener with its CA file and the broker's login (if any).
    pub fn tls_endpoint(&self) -> Option<Endpoint> {
        self.tls.as_ref().map(|t| Endpoint {
            addr: t.addr,
            ca_file: Some(t.ca_file.clone()),
            login: self.login.clone(),
        })
    }

    /// The broker's process id (`None` after [`kill`](Self::kill)).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The configuration file mosquitto was started with.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The instance's temporary directory (configuration, certificates, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the broker logged so far: its log file (`log_type all`: connections, every packet)
    /// and its stdout/stderr (start-up errors).
    pub fn log(&self) -> String {
        process::read_logs(&self.logs)
    }

    /// Freeze the broker (`SIGSTOP`): connections stay open, nothing is answered.
    pub fn pause(&self) -> io::Result<()> {
        self.process.signal(Signal::SIGSTOP).map_err(to_io)
    }

    /// Undo [`pause`](Self::pause) (`SIGCONT`).
    pub fn resume(&self) -> io::Result<()> {
        self.process.signal(Signal::SIGCONT).map_err(to_io)
    }

    /// Kill the broker now (`SIGKILL`, then reap): clients see their connections reset, no
    /// DISCONNECT and no will-message delay. Idempotent.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Kill the broker (if it still runs) and start it again with the same configuration on
    /// the same ports. Retained messages and sessions are gone (no persistence).
    pub async fn restart(&mut self) -> io::Result<()> {
        self.process.kill();
        self.process = spawn(&self.config, &self.logs[1])?;
        self.wait_ready().await
    }

    /// Poll every listener until it accepts, failing early if mosquitto exits.
    async fn wait_ready(&mut self) -> io::Result<()> {
        let listeners: Vec<SocketAddr> =
            std::iter::once(self.addr).chain(self.tls_addr()).collect();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(exit) = self.process.exited() {
                return Err(io::Error::other(format!(
                    "mosquitto {exit} before listening on {listeners:?}\n--- broker log ---\n{}",
                    self.log()
                )));
            }
            let mut ready = true;
            for &addr in &listeners {
                let probe = timeout(Duration::from_millis(500), TcpStream::connect(addr)).await;
                ready &= matches!(probe, Ok(Ok(_)));
            }
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "mosquitto not listening on {listeners:?} within {READY_TIMEOUT:?}\n--- broker log ---\n{}",
                        self.log()
                    ),
                ));
            }
            sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.process.kill();
    }
}

/// `mosquitto -c <config>` in its own process group, stdout and stderr into `output_log`.
fn spawn(config: &Path, output_log: &Path) -> io::Result<ServerProcess> {
    let mut cmd = std::process::Command::new(MOSQUITTO);
    cmd.arg("-c").arg(config);
    // `ServerProcess::spawn` names an FTP `Kind` only in its spawn error, which is replaced
    // here by one that names mosquitto.
    ServerProcess::spawn(Kind::Vsftpd, cmd, output_log).map_err(|e| match e {
        Error::Io { source, .. } => {
            io::Error::new(source.kind(), format!("spawn {MOSQUITTO}: {source}"))
        }
        other => to_io(other),
    })
}

/// The broker's configuration. When the tests run as root, mosquitto would drop privileges to
/// user `mosquitto`, which cannot read the instance's private temp dir: `user root` keeps it.
fn config_text(
    addr: SocketAddr,
    tls: Option<&TlsListener>,
    password_file: Option<&Path>,
    log_file: &Path,
) -> String {
    let mut lines =
        vec!["# one test instance, made by crates/test-servers/src/mqtt.rs".to_string()];
    if nix::unistd::geteuid().is_root() || nix::unistd::getuid().is_root() {
        lines.push("user root".into());
    }
    lines.push("persistence false".into());
    lines.push(format!("log_dest file {}", log_file.display()));
    lines.push("log_type all".into());
    lines.push("connection_messages true".into());
    match password_file {
        Some(file) => {
            lines.push("allow_anonymous false".into());
            lines.push(format!("password_file {}", file.display()));
        }
        None => lines.push("allow_anonymous true".into()),
    }
    lines.push(format!("listener {} {}", addr.port(), addr.ip()));
    if let Some(tls) = tls {
        lines.push(format!("listener {} {}", tls.addr.port(), tls.addr.ip()));
        lines.push(format!("cafile {}", tls.ca_file.display()));
        lines.push(format!("certfile {}", tls.cert_file.display()));
        lines.push(format!("keyfile {}", tls.key_file.display()));
    }
    lines.push(String::new());
    lines.join("\n")
}

/// A fresh test CA and a server certificate it signs, as PEM files in `dir`.
fn write_tls_files(dir: &Path, addr: SocketAddr) -> io::Result<TlsListener> {
    let pki = pki::localhost_pki()?;
    let tls = TlsListener {
        addr,
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
        ca_pem: pki.ca_pem,
    };
    std::fs::write(&tls.ca_file, &tls.ca_pem)?;
    let chain: String = pki.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    std::fs::write(&tls.cert_file, chain)?;
    let mut key = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tls.key_file)?;
    std::io::Write::write_all(
        &mut key,
        pem("PRIVATE KEY", pki.key.secret_der()).as_bytes(),
    )?;
    Ok(tls)
}

/// `mosquitto_passwd -c -b <dir>/passwd <user> <password>`.
async fn write_password_file(dir: &Path, login: &Login) -> io::Result<PathBuf> {
    process::require("mosquitto_passwd", Path::new(MOSQUITTO_PASSWD)).map_err(to_io)?;
    let file = dir.join("passwd");
    let mut cmd = std::process::Command::new(MOSQUITTO_PASSWD);
    cmd.args(["-c", "-b"])
        .arg(&file)
        .arg(&login.user)
        .arg(&login.password);
    tokio::task::spawn_blocking(move || process::run_setup("mosquitto_passwd", &mut cmd, None))
        .await
        .map_err(io::Error::other)?
        .map_err(to_io)?;
    Ok(file)
}

/// `der` as PEM with `label` (base64, 64 characters a line).
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The crate's setup errors as `io::Error`, keeping the kind of an I/O cause.
fn to_io(e: Error) -> io::Error {
    match e {
        Error::Io { context, source } => {
            io::Error::new(source.kind(), format!("{context}: {source}"))
        }
        Error::NotInstalled { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        other => io::Error::other(other.to_string()),
    }
}

/// `NotFound` naming the install script unless `bin` exists.
fn require_client(bin: &'static str) -> io::Result<()> {
    process::require(bin, Path::new(bin)).map_err(to_io)
}

/// A spawn error that names the binary (and the install script when it is missing).
fn spawn_err(bin: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| {
        let hint = match e.kind() {
            io::ErrorKind::NotFound => ": run scripts/install-test-deps (as root)",
            _ => "",
        };
        io::Error::new(e.kind(), format!("spawn {bin}: {e}{hint}"))
    }
}

fn check_qos(qos: u8) -> io::Result<()> {
    match qos {
        0..=2 => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("MQTT QoS {qos}: must be 0, 1 or 2"),
        )),
    }
}

/// Publish one message with `mosquitto_pub` and wait until it is delivered to the broker (for
/// QoS 1 and 2: acknowledged). An empty payload is sent as a zero-length message (`-n`); with
/// `retain` that clears the topic's retained message. Binary payloads are fine (`-s`, stdin).
/// Gives up after [`CLIENT_TIMEOUT`].
pub async fn publish(
    to: impl Into<Endpoint>,
    topic: &str,
    payload: impl AsRef<[u8]>,
    qos: u8,
    retain: bool,
) -> io::Result<()> {
    let to = to.into();
    let payload = payload.as_ref();
    check_qos(qos)?;
    require_client(MOSQUITTO_PUB)?;
    let mut cmd = Command::new(MOSQUITTO_PUB);
    cmd.args(to.client_args())
        .args(["-q", &qos.to_string(), "-t", topic])
        .arg(if payload.is_empty() { "-n" } else { "-s" });
    if retain {
        cmd.arg("-r");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(spawn_err(MOSQUITTO_PUB))?;
    let stdin = child.stdin.take();
    let run = async move {
        if let Some(mut stdin) = stdin {
            stdin.write_all(payload).await?;
        }
        child.wait_with_output().await
    };
    let out = timeout(CLIENT_TIMEOUT, run).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "mosquitto_pub to {} ({topic}): no result within {CLIENT_TIMEOUT:?}",
                to.addr
            ),
        )
    })??;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "mosquitto_pub to {} ({topic}) failed ({}): {}{}",
        to.addr,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}

/// One message a [`Subscriber`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The QoS it was delivered with (the lower of the publisher's and the subscription's).
    pub qos: u8,
    /// Whether it came from the broker's retained store (sent on subscribing).
    pub retain: bool,
}

/// A running `mosquitto_sub` on one topic filter; killed on drop.
#[derive(Debug)]
pub struct Subscriber {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Option<ChildStderr>,
    addr: SocketAddr,
    topic: String,
}

impl Subscriber {
    /// Subscribe to `topic` (a filter: `+` and `#` work) with `qos`; returns once the broker
    /// has acknowledged the subscription (within [`CLIENT_TIMEOUT`]). A refused subscription
    /// (SUBACK `128`) or connection (bad login) is an error.
    pub async fn start(from: impl Into<Endpoint>, topic: &str, qos: u8) -> io::Result<Self> {
        Self::start_counted(from.into(), topic, qos, None).await
    }

    /// `stdbuf -oL mosquitto_sub -d … -t <topic> -q <qos> [-C <count>]`, then wait for the
    /// SUBACK in its debug output.
    async fn start_counted(
        from: Endpoint,
        topic: &str,
        qos: u8,
        count: Option<u32>,
    ) -> io::Result<Self> {
        check_qos(qos)?;
        require_client(MOSQUITTO_SUB)?;
        require_client(STDBUF)?;
        let mut cmd = Command::new(STDBUF);
        cmd.args(["-oL", MOSQUITTO_SUB, "-d"])
            .args(from.client_args())
            .args(["-q", &qos.to_string(), "-t", topic])
            .args(["-F", &format!("{MESSAGE_MARK} %q %r %x %t")]);
        if let Some(count) = count {
            cmd.args(["-C", &count.to_string()]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(spawn_err(STDBUF))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout pipe"))?;
        let mut sub = Subscriber {
            stderr: child.stderr.take(),
            child,
            lines: BufReader::new(stdout).lines(),
            addr: from.addr,
            topic: topic.to_string(),
        };
        match timeout(CLIENT_TIMEOUT, sub.subscribed()).await {
            Ok(result) => result.map(|()| sub),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "mosquitto_sub {} ({topic}): no SUBACK within {CLIENT_TIMEOUT:?}",
                    from.addr
                ),
            )),
        }
    }

    /// Read debug output up to `Subscribed (mid: 1): <granted qos>`.
    async fn subscribed(&mut self) -> io::Result<()> {
        loop {
            let Some(line) = self.lines.next_line().await? else {
                return Err(self.ended("before its subscription was acknowledged").await);
            };
            if let Some(rest) = line.strip_prefix("Subscribed (mid: ") {
                let granted = rest.rsplit(' ').next().unwrap_or_default();
                return match granted {
                    "0" | "1" | "2" => Ok(()),
                    _ => Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "{} refused the subscription to {}: {line}",
                            self.addr, self.topic
                        ),
                    )),
                };
            }
        }
    }

    /// The next message, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> io::Result<Message> {
        match timeout(within, self.recv()).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no message on {} from {} within {within:?}",
                    self.topic, self.addr
                ),
            )),
        }
    }

    async fn recv(&mut self) -> io::Result<Message> {
        loop {
            let Some(line) = self.lines.next_line().await? else {
                return Err(self.ended("while waiting for a message").await);
            };
            if let Some(message) = parse_message(&line) {
                return message;
            }
        }
    }

    /// The process id of `mosquitto_sub`.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The error for a `mosquitto_sub` that closed its output: its exit status and stderr.
    async fn ended(&mut self, when: &str) -> io::Error {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.stderr.take() {
            let _ = timeout(Duration::from_secs(5), pipe.read_to_string(&mut stderr)).await;
        }
        let status = match timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            _ => "no exit status".into(),
        };
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "mosquitto_sub {} ({}) ended {when} ({status}): {}",
                self.addr,
                self.topic,
                stderr.trim_end()
            ),
        )
    }
}

/// `<MESSAGE_MARK> <qos> <retain> <hex payload> <topic>`; `None` for other lines.
fn parse_message(line: &str) -> Option<io::Result<Message>> {
    let rest = line.strip_prefix(MESSAGE_MARK)?.strip_prefix(' ')?;
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("mosquitto_sub: {line:?}"),
        )
    };
    let mut fields = rest.splitn(4, ' ');
    let (Some(qos), Some(retain), Some(hex), Some(topic)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Some(Err(bad()));
    };
    let payload: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    let (Ok(qos), Some(payload), true) = (qos.parse(), payload, hex.len() % 2 == 0) else {
        return Some(Err(bad()));
    };
    Some(Ok(Message {
        topic: topic.to_string(),
        payload,
        qos,
        retain: retain == "1",
    }))
}

/// Subscribe to `topic` with `mosquitto_sub -C 1` and return the payload of the first message
/// (a retained one counts), all within `within`. For a message published *after* a given point,
/// start a [`Subscriber`] before that point instead: this call cannot tell when its
/// subscription is in place.
pub async fn subscribe_once(
    from: impl Into<Endpoint>,
    topic: &str,
    within: Duration,
) -> io::Result<Vec<u8>> {
    let from = from.into();
    let addr = from.addr;
    let run = async {
        let mut sub = Subscriber::start_counted(from, topic, 0, Some(1)).await?;
        sub.recv().await
    };
    match timeout(within, run).await {
        Ok(result) => result.map(|m| m.payload),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no message on {topic} from {addr} within {within:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn pem_round_trips_every_padding() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 50, 300] {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let text = pem("CERTIFICATE", &der);
            assert!(text.lines().all(|l| l.len() <= 64));
            if len > 0 {
                let back = CertificateDer::from_pem_slice(text.as_bytes()).expect("parse");
                assert_eq!(back.as_ref(), der.as_slice(), "len {len}");
            }
        }
        assert_eq!(
            pem("X", b"foob"),
            "-----BEGIN X-----\nZm9vYg==\n-----END X-----\n"
        );
    }

    #[test]
    fn message_lines_parse() {
        let m = parse_message(&format!("{MESSAGE_MARK} 1 0 68690074 a/b c"))
            .unwrap()
            .unwrap();
        assert_eq!(m.topic, "a/b c");
        assert_eq!(m.payload, b"hi\0t");
        assert_eq!((m.qos, m.retain), (1, false));
        let empty = parse_message(&format!("{MESSAGE_MARK} 0 1  t"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (empty.payload.len(), empty.retain, empty.topic.as_str()),
            (0, true, "t")
        );
        assert!(parse_message("Client (null) received PUBLISH").is_none());
        assert!(
            parse_message(&format!("{MESSAGE_MARK} 0 0 6 t"))
                .unwrap()
                .is_err()
        );
    }
}
