//! A logged-in FTP session and its operations.
//!
//! [`FtpSession::connect`] resolves the host, opens the control connection, reads the
//! greeting, upgrades to TLS (`AUTH TLS`) if asked, logs in (`USER`, `PASS`, `ACCT`),
//! sets up data protection (`PBSZ 0`, `PROT P|C`) and binary type (`TYPE I`). Every
//! method after that is one FTP operation; methods that move file contents come in two
//! flavours:
//!
//! * **streaming handles**: [`FtpSession::retrieve`] returns a [`Download`] (an
//!   `AsyncRead`), [`FtpSession::store`] an [`Upload`] (an `AsyncWrite`). The caller
//!   moves the bytes itself and calls `finish()`, which closes the data connection and
//!   reads the server's final reply.
//! * **pumps**: [`FtpSession::retrieve_to`] and [`FtpSession::store_from`] move the bytes
//!   between the data connection and a caller's reader/writer, and call a progress
//!   callback with the running byte count (for progress URCs, for example).
//!
//! # Concurrency and the inactivity timer
//!
//! FTP allows one command at a time on a control connection; methods take `&mut self`.
//! The control connection sits behind an async mutex shared with a small watchdog task
//! that exists only if an inactivity timeout is set: when no operation ran for that long
//! it takes the connection, sends `QUIT`, and closes it. The next operation then fails
//! with [`ErrorKind::Closed`]`(`[`CloseReason::Inactivity`]`)`; [`FtpSession::close_watch`]
//! lets a caller learn about it as it happens.
//!
//! # Errors and session state
//!
//! A negative reply leaves the session usable. Errors that leave the control connection
//! in an unknown state (I/O error, reply timeout, garbage, `421`) close the session;
//! the error says so ([`FtpError::session_closed`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::control::{Control, check_arg};
use crate::data::{self, DataSettings};
use crate::error::{Channel, CloseReason, ErrorKind, FtpError, Result, TimeoutKind};
use crate::options::{ConnectOptions, IpPreference};
use crate::reply::Reply;
use crate::shared::{Held, Settings, Shared, State};
use crate::stream::close_with_linger;
use crate::tls::{TlsContext, TlsInfo, TlsVersion};
use crate::transfer::{Download, Listing, StoreMode, TransferSummary, Upload};

/// Sends QUIT, reads the reply, closes the connection with the control linger.
async fn quit_control(mut ctrl: Control, linger: Duration) -> Result<Reply> {
    let result = ctrl.command("QUIT").await;
    if let Some(stream) = ctrl.into_stream() {
        close_with_linger(stream, linger);
    }
    result
}

/// A logged-in FTP or FTPS session. See the [module docs](self).
pub struct FtpSession {
    shared: Arc<Shared>,
    watchdog: Option<tokio::task::JoinHandle<()>>,
    peer: SocketAddr,
    local: SocketAddr,
    control_tls: Option<TlsInfo>,
}

impl std::fmt::Debug for FtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpSession")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("control_tls", &self.control_tls)
            .field("closed", &self.shared.close_reason())
            .finish()
    }
}

fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let trimmed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    trimmed.parse().ok()
}

fn order_addresses(mut ips: Vec<IpAddr>, pref: IpPreference) -> Vec<IpAddr> {
    match pref {
        IpPreference::V4Only => ips.retain(IpAddr::is_ipv4),
        IpPreference::V6Only => ips.retain(IpAddr::is_ipv6),
        IpPreference::PreferV4 => ips.sort_by_key(|ip| !ip.is_ipv4()),
        IpPreference::PreferV6 => ips.sort_by_key(|ip| !ip.is_ipv6()),
    }
    ips
}

async fn resolve(opts: &ConnectOptions) -> Result<Vec<IpAddr>> {
    check_arg("host", &opts.host)?;
    if opts.host.is_empty() {
        return Err(ErrorKind::InvalidArgument("empty host".into()).into());
    }
    let ips = match parse_ip_literal(&opts.host) {
        Some(ip) => vec![ip],
        None => {
            let lookup = opts.resolver.resolve(&opts.host);
            match tokio::time::timeout(opts.timeouts.connect, lookup).await {
                Err(_) => return Err(ErrorKind::Timeout(TimeoutKind::Connect).into()),
                Ok(Err(source)) => {
                    return Err(ErrorKind::Resolve {
                        host: opts.host.clone(),
                        source,
                    }
                    .into());
                }
                Ok(Ok(ips)) => ips,
            }
        }
    };
    let ips = order_addresses(ips, opts.ip_preference);
    if ips.is_empty() {
        return Err(ErrorKind::NoAddress {
            host: opts.host.clone(),
        }
        .into());
    }
    Ok(ips)
}

async fn connect_tcp(
    ips: &[IpAddr],
    port: u16,
    timeout: Duration,
    route: &(dyn Fn(SocketAddr) -> Option<SocketAddr> + Sync),
) -> Result<TcpStream> {
    let mut last: Option<FtpError> = None;
    for ip in ips {
        let wanted = SocketAddr::new(*ip, port);
        // Refused by the embedder's policy: as a refused connect.
        let Some(addr) = route(wanted) else {
            last = Some(ErrorKind::ConnectRefused(wanted).into());
            continue;
        };
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => last = Some(ErrorKind::Timeout(TimeoutKind::Connect).into()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Some(ErrorKind::ConnectRefused(addr).into())
            }
            Ok(Err(source)) => {
                last = Some(
                    ErrorKind::Io {
                        channel: Channel::Control,
                        source,
                    }
                    .into(),
                )
            }
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        ErrorKind::NoAddress {
            host: String::new(),
        }
        .into()
    }))
}

/// Login: USER, then PASS if asked (331), ACCT if asked (332) or configured.
async fn login(ctrl: &mut Control, opts: &ConnectOptions) -> Result<()> {
    let mut reply = ctrl.command(&format!("USER {}", opts.user)).await?;
    let mut account_sent = false;
    if reply.code() == 331 {
        ctrl.send_password(opts.password.expose()).await?;
        reply = ctrl.read_reply().await?;
    }
    if reply.code() == 332 {
        let Some(account) = &opts.account else {
            return Err(reply.into());
        };
        reply = ctrl.command(&format!("ACCT {account}")).await?;
        account_sent = true;
    }
    if !matches!(reply.code(), 230 | 202) {
        return Err(reply.into());
    }
    if let (Some(account), false) = (&opts.account, account_sent) {
        // An account was configured but not asked for: send it anyway, as the
        // module does. "Not implemented" answers (500/502) and 202 are fine.
        let reply = ctrl.command(&format!("ACCT {account}")).await?;
        if !(reply.is_completion() || matches!(reply.code(), 500 | 502)) {
            return Err(reply.into());
        }
    }
    Ok(())
}

/// Parses the quoted path of a 257 reply (`257 "/a ""b"" c" created`), undoubling `""`.
pub fn parse_257_path(reply: &Reply) -> Option<String> {
    let text = reply.text().get(4..)?;
    let start = text.find('"')?;
    let mut out = String::new();
    let mut chars = text[start + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn value_of_213(reply: &Reply) -> Result<&str> {
    let value = reply.message().trim();
    if value.is_empty() {
        return Err(ErrorKind::Protocol(format!("no value in reply: {reply}")).into());
    }
    Ok(value)
}

impl FtpSession {
    /// Connects and logs in. See the [module docs](self) for the sequence. Every error says
    /// [`session_closed`](FtpError::session_closed): when connecting fails there is no session,
    /// whether it failed before the greeting (resolve, connect) or after it (login refused).
    pub async fn connect(opts: ConnectOptions) -> Result<FtpSession> {
        Self::open(opts)
            .await
            .map_err(FtpError::with_session_closed)
    }

    async fn open(opts: ConnectOptions) -> Result<FtpSession> {
        check_arg("user", &opts.user)?;
        check_arg("password", opts.password.expose())?;
        if let Some(account) = &opts.account {
            check_arg("account", account)?;
        }
        let tls = match &opts.tls {
            Some(t) => Some(TlsContext::new(t, &opts.host)?),
            None => None,
        };
        let ips = resolve(&opts).await?;
        let route = |addr| match opts.socket_layer.as_ref() {
            None => Some(addr),
            Some(layer) => Some(layer.route(addr)).filter(|to| layer.allows(*to)),
        };
        let tcp = connect_tcp(&ips, opts.port, opts.timeouts.connect, &route).await?;
        let mut ctrl = Control::new(
            tcp,
            opts.socket_layer.as_ref(),
            opts.timeouts.reply,
            opts.limits.max_reply_bytes,
        )?;
        let setup = async {
            let mut greeting = ctrl.read_reply().await?;
            // "120 Service ready in nnn minutes" may precede the 220; a few are fine,
            // an endless stream is not.
            let mut delays = 0;
            while greeting.code() == 120 && delays < 8 {
                greeting = ctrl.read_reply().await?;
                delays += 1;
            }
            if greeting.code() != 220 {
                return Err(greeting.into());
            }
            if let Some(tls) = &tls {
                ctrl.expect("AUTH TLS", |c| c == 234 || c == 334).await?;
                ctrl.upgrade_to_tls(tls, opts.timeouts.connect).await?;
            }
            login(&mut ctrl, &opts).await?;
            if let Some(tls) = &tls {
                ctrl.expect("PBSZ 0", |c| c == 200).await?;
                let prot = match tls.data_protection {
                    crate::tls::DataProtection::Private => "PROT P",
                    crate::tls::DataProtection::Clear => "PROT C",
                };
                ctrl.expect(prot, |c| c == 200).await?;
            }
            ctrl.expect("TYPE I", |c| c == 200).await?;
            Ok::<(), FtpError>(())
        };
        if let Err(e) = setup.await {
            // Best effort: say goodbye if the connection still works.
            if !e.breaks_control() {
                let _ = quit_control(ctrl, Duration::ZERO).await;
            } else if let Some(stream) = ctrl.into_stream() {
                close_with_linger(stream, Duration::ZERO);
            }
            return Err(e.with_session_closed());
        }
        let peer = ctrl.peer();
        let local = ctrl.local();
        let control_tls = ctrl.tls_info().map(TlsInfo::from_rustls);
        let last_reply = ctrl.last_reply().cloned();
        let (closed, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            control: Mutex::new(Some(ctrl)),
            state: StdMutex::new(State {
                last_activity: Instant::now(),
                last_reply,
                last_data_tls: None,
                refill_tickets: true,
            }),
            closed,
            settings: Settings {
                data_mode: opts.data_mode.clone(),
                timeouts: opts.timeouts.clone(),
                linger: opts.linger,
                limits: opts.limits,
                tls,
                socket_layer: opts.socket_layer.clone(),
            },
        });
        let watchdog = shared
            .inactivity()
            .map(|limit| tokio::spawn(watchdog(Arc::clone(&shared), limit)));
        Ok(FtpSession {
            shared,
            watchdog,
            peer,
            local,
            control_tls,
        })
    }

    /// The server's address (the control connection's peer).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The control connection's local address (where active mode listens).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// TLS facts of the control connection (`None` for plain FTP).
    pub fn control_tls(&self) -> Option<TlsInfo> {
        self.control_tls
    }

    /// TLS facts of the most recent data connection (`None` if it was clear).
    pub fn last_data_tls(&self) -> Option<TlsInfo> {
        self.shared.state().last_data_tls
    }

    /// The last reply read from the server, whatever the operation's outcome.
    pub fn last_reply(&self) -> Option<Reply> {
        self.shared.state().last_reply.clone()
    }

    /// `true` once the session is closed (QUIT, inactivity, or a fatal error).
    pub fn is_closed(&self) -> bool {
        self.shared.close_reason().is_some()
    }

    /// Why the session is closed, if it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.close_reason()
    }

    /// A receiver that changes from `None` to the reason when the session closes,
    /// e.g. to emit an unsolicited notification when the inactivity timer fires.
    pub fn close_watch(&self) -> watch::Receiver<Option<CloseReason>> {
        self.shared.closed.subscribe()
    }

    /// Locks the control connection for one operation.
    pub(crate) async fn hold(&self) -> Result<Held<'_>> {
        let mut guard = self.shared.control.lock().await;
        if guard.is_some() && self.shared.idle_expired() {
            self.shared.mark_closed(CloseReason::Inactivity);
            if let Some(ctrl) = guard.take() {
                let _ = quit_control(ctrl, self.shared.settings.linger.control).await;
            }
        }
        let mut held = Held {
            guard,
            shared: &self.shared,
        };
        held.ctrl()?;
        Ok(held)
    }

    /// Runs one command-reply exchange; a reply `accept` refuses becomes an error.
    async fn simple(&mut self, line: &str, accept: impl Fn(u16) -> bool) -> Result<Reply> {
        let mut held = self.hold().await.map_err(FtpError::with_session_closed)?;
        let result = match held.ctrl() {
            Ok(ctrl) => ctrl.expect(line, accept).await,
            Err(e) => Err(e),
        };
        held.settle(result)
    }

    /// Sends any command line and returns its reply, whatever the code (for commands
    /// this API does not cover, e.g. `SITE CHMOD`). Data commands are not supported
    /// this way. CR, LF and NUL are refused.
    pub async fn quote(&mut self, line: &str) -> Result<Reply> {
        check_arg("command", line)?;
        self.simple(line, |_| true).await
    }

    /// `NOOP`: keeps the session alive / checks it.
    pub async fn noop(&mut self) -> Result<Reply> {
        self.simple("NOOP", |c| c == 200).await
    }

    /// `PWD`: the current directory (the quoted path of the `257` reply).
    pub async fn pwd(&mut self) -> Result<String> {
        let reply = self.simple("PWD", |c| c == 257).await?;
        parse_257_path(&reply)
            .ok_or_else(|| ErrorKind::Protocol(format!("no quoted path in reply: {reply}")).into())
    }

    /// `CWD path`.
    pub async fn cwd(&mut self, path: &str) -> Result<Reply> {
        check_arg("path", path)?;
        self.simple(&format!("CWD {path}"), |c| c == 250 || c == 200)
            .await
    }

    /// `CDUP`: to the parent directory.
    pub async fn cdup(&mut self) -> Result<Reply> {
        self.simple("CDUP", |c| c == 250 || c == 200).await
    }

    /// `MKD path`: creates a directory.
    pub async fn mkd(&mut self, path: &str) -> Result<Reply> {
        check_arg("path", path)?;
        self.simple(&format!("MKD {path}"), |c| c == 257 || c == 250)
            .await
    }

    /// `RMD path`: removes an (empty) directory.
    pub async fn rmd(&mut self, path: &str) -> Result<Reply> {
        check_arg("path", path)?;
        self.simple(&format!("RMD {path}"), |c| c == 250 || c == 200)
            .await
    }

    /// `DELE path`: deletes a file.
    pub async fn dele(&mut self, path: &str) -> Result<Reply> {
        check_arg("path", path)?;
        self.simple(&format!("DELE {path}"), |c| c == 250 || c == 200)
            .await
    }

    /// `RNFR from` + `RNTO to`: renames or moves. Both names are checked before
    /// anything is sent.
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<Reply> {
        check_arg("path", from)?;
        check_arg("path", to)?;
        let mut held = self.hold().await.map_err(FtpError::with_session_closed)?;
        let result = async {
            let ctrl = held.ctrl()?;
            ctrl.expect(&format!("RNFR {from}"), |c| c == 350).await?;
            ctrl.expect(&format!("RNTO {to}"), |c| c == 250 || c == 200)
                .await
        }
        .await;
        held.settle(result)
    }

    /// `SIZE path`: the size in bytes (RFC 3659; in binary type, the exact size).
    pub async fn size(&mut self, path: &str) -> Result<u64> {
        check_arg("path", path)?;
        let reply = self.simple(&format!("SIZE {path}"), |c| c == 213).await?;
        let value = value_of_213(&reply)?;
        value
            .parse()
            .map_err(|_| ErrorKind::Protocol(format!("SIZE reply is not a number: {reply}")).into())
    }

    /// `MDTM path`: the modification time as sent, `YYYYMMDDHHMMSS[.sss]` (UTC).
    pub async fn mdtm(&mut self, path: &str) -> Result<String> {
        check_arg("path", path)?;
        let reply = self.simple(&format!("MDTM {path}"), |c| c == 213).await?;
        let value = value_of_213(&reply)?;
        if value.len() < 14 || !value.as_bytes()[..14].iter().all(u8::is_ascii_digit) {
            return Err(ErrorKind::Protocol(format!("MDTM reply is not a time: {reply}")).into());
        }
        Ok(value.to_string())
    }

    /// `MLST path` (or of the current directory): the facts line, e.g.
    /// `type=file;size=42;modify=20260101120000; /pub/a.txt`.
    pub async fn mlst(&mut self, path: Option<&str>) -> Result<String> {
        let line = match path {
            Some(p) => {
                check_arg("path", p)?;
                format!("MLST {p}")
            }
            None => "MLST".to_string(),
        };
        let reply = self.simple(&line, |c| c == 250).await?;
        // The facts line is the one starting with a space between 250- and 250 End.
        reply
            .lines()
            .skip(1)
            .find(|l| l.starts_with(' '))
            .or_else(|| reply.lines().nth(1))
            .map(|l| l.trim_start().to_string())
            .ok_or_else(|| ErrorKind::Protocol(format!("no facts in MLST reply: {reply}")).into())
    }

    /// `FEAT`: the server's feature list (the whole reply).
    pub async fn feat(&mut self) -> Result<Reply> {
        self.simple("FEAT", |c| c == 211).await
    }

    /// `ABOR` while no transfer runs (to abort a running one, use
    /// [`Download::abort`] / [`Upload::abort`]). Returns the server's reply.
    pub async fn abort(&mut self) -> Result<Reply> {
        self.simple("ABOR", |c| (200..300).contains(&c)).await
    }

    /// `QUIT`: ends the session politely and closes the control connection (with
    /// the control linger). Later calls fail with [`CloseReason::Quit`].
    pub async fn quit(&mut self) -> Result<Reply> {
        let mut held = self.hold().await.map_err(FtpError::with_session_closed)?;
        self.shared.mark_closed(CloseReason::Quit);
        let linger = self.shared.settings.linger.control;
        match held.guard.take() {
            Some(ctrl) => quit_control(ctrl, linger)
                .await
                .map_err(FtpError::with_session_closed),
            None => Err(FtpError::new(ErrorKind::Closed(CloseReason::Quit))),
        }
    }

    fn data_settings(&self) -> DataSettings<'_> {
        DataSettings {
            mode: &self.shared.settings.data_mode,
            connect_timeout: self.shared.settings.timeouts.connect,
            tls: self.shared.settings.tls.as_ref(),
            socket_layer: self.shared.settings.socket_layer.as_ref(),
        }
    }

    /// Whether the next TLS 1.3 data connection would find no ticket to resume with
    /// (see [`tickets`](crate::tickets)).
    fn needs_ticket_refill(&self) -> bool {
        let Some(tls) = &self.shared.settings.tls else {
            return false;
        };
        tls.data_protection == crate::tls::DataProtection::Private
            && self
                .control_tls
                .is_some_and(|t| t.version == Some(TlsVersion::Tls13))
            && tls.store.tls13_tickets() == 0
            && self.shared.state().refill_tickets
    }

    /// Opens a data transfer and returns the handle that owns the control lock.
    async fn open_transfer(
        &mut self,
        command: String,
        rest: Option<u64>,
    ) -> Result<(Held<'_>, data::OpenedData)> {
        let settings = self.data_settings();
        let refill = self.needs_ticket_refill();
        let stall = self.shared.settings.timeouts.data_stall;
        let mut held = self.hold().await.map_err(FtpError::with_session_closed)?;
        let opened = async {
            let ctrl = held.ctrl()?;
            if refill {
                let keep = refill_tls13_tickets(ctrl, &settings, stall).await?;
                if !keep {
                    self.shared.state().refill_tickets = false;
                }
            }
            data::open(ctrl, &settings, &command, rest).await
        }
        .await;
        match opened {
            Ok(o) => {
                held.record_data_tls(o.stream.tls_info().map(TlsInfo::from_rustls));
                Ok((held, o))
            }
            Err(e) => {
                // If the transfer command was answered 1xx but the data connection
                // failed afterwards, the server still owes its final reply.
                if let Ok(ctrl) = held.ctrl()
                    && ctrl.last_reply().is_some_and(Reply::is_preliminary)
                {
                    ctrl.pending_replies += 1;
                }
                Err(held.settle_err(e))
            }
        }
    }

    /// `RETR path` (after `REST offset` if `offset > 0`): returns a [`Download`] to read
    /// the file from. Call [`Download::finish`] after reading to the end.
    pub async fn retrieve(&mut self, path: &str, offset: u64) -> Result<Download<'_>> {
        check_arg("path", path)?;
        let stall = self.shared.settings.timeouts.data_stall;
        let rest = (offset > 0).then_some(offset);
        let (held, opened) = self.open_transfer(format!("RETR {path}"), rest).await?;
        Ok(Download::new(held, opened, stall))
    }

    /// `STOR path`, `REST offset` + `STOR path`, or `APPE path` (see [`StoreMode`]):
    /// returns an [`Upload`] to write the file into. Call [`Upload::finish`] at the end.
    pub async fn store(&mut self, path: &str, mode: StoreMode) -> Result<Upload<'_>> {
        check_arg("path", path)?;
        let stall = self.shared.settings.timeouts.data_stall;
        let (command, rest) = match mode {
            StoreMode::Replace => (format!("STOR {path}"), None),
            StoreMode::Resume(0) => (format!("STOR {path}"), None),
            StoreMode::Resume(offset) => (format!("STOR {path}"), Some(offset)),
            StoreMode::Append => (format!("APPE {path}"), None),
        };
        let (held, opened) = self.open_transfer(command, rest).await?;
        Ok(Upload::new(held, opened, stall))
    }

    /// Downloads `path` from `offset` into `sink`, calling `progress` with the bytes
    /// received so far after every chunk. A failing `sink` aborts the transfer (ABOR)
    /// and is reported as [`ErrorKind::LocalWrite`]; the session stays usable.
    pub async fn retrieve_to<W>(
        &mut self,
        path: &str,
        offset: u64,
        sink: &mut W,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<TransferSummary>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut download = self.retrieve(path, offset).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match download.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => return Err(download.fail(e).await),
            };
            if n == 0 {
                break;
            }
            if let Err(e) = sink.write_all(&buf[..n]).await {
                let _ = download.abort().await;
                return Err(ErrorKind::LocalWrite(e).into());
            }
            progress(download.bytes());
        }
        if let Err(e) = sink.flush().await {
            let _ = download.abort().await;
            return Err(ErrorKind::LocalWrite(e).into());
        }
        let bytes = download.bytes();
        let reply = download.finish().await?;
        Ok(TransferSummary { bytes, reply })
    }

    /// Uploads everything `source` yields to `path` (see [`StoreMode`]), calling
    /// `progress` with the bytes sent so far after every chunk. A failing `source`
    /// aborts the transfer and is reported as [`ErrorKind::LocalRead`].
    pub async fn store_from<R>(
        &mut self,
        path: &str,
        mode: StoreMode,
        source: &mut R,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<TransferSummary>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let mut upload = self.store(path, mode).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match source.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = upload.abort().await;
                    return Err(ErrorKind::LocalRead(e).into());
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = upload.write_all(&buf[..n]).await {
                return Err(upload.fail(e).await);
            }
            progress(upload.bytes());
        }
        let bytes = upload.bytes();
        let reply = upload.finish().await?;
        Ok(TransferSummary { bytes, reply })
    }

    async fn listing(&mut self, verb: &str, path: Option<&str>) -> Result<Listing> {
        let command = match path {
            Some(p) => {
                check_arg("path", p)?;
                format!("{verb} {p}")
            }
            None => verb.to_string(),
        };
        let max = self.shared.settings.limits.max_listing_bytes;
        let stall = self.shared.settings.timeouts.data_stall;
        let (held, opened) = self.open_transfer(command, None).await?;
        let mut download = Download::new(held, opened, stall);
        let mut data = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut truncated = false;
        loop {
            let n = match download.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => return Err(download.fail(e).await),
            };
            if n == 0 {
                break;
            }
            let room = max.saturating_sub(data.len());
            if n > room {
                data.extend_from_slice(&buf[..room]);
                truncated = true;
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        let reply = if truncated {
            download.abort().await?
        } else {
            download.finish().await?
        };
        Ok(Listing {
            data,
            truncated,
            reply,
        })
    }

    /// `LIST [path]`: the server's directory listing, byte for byte (format is the
    /// server's choice, usually `ls -l` style), capped at
    /// [`Limits::max_listing_bytes`].
    pub async fn list(&mut self, path: Option<&str>) -> Result<Listing> {
        self.listing("LIST", path).await
    }

    /// `NLST [path]`: names only, one per line, byte for byte, capped like [`list`](Self::list).
    pub async fn nlst(&mut self, path: Option<&str>) -> Result<Listing> {
        self.listing("NLST", path).await
    }
}

/// Opens one throw-away `NLST` data connection, whose TLS handshake is a full one, to
/// receive fresh TLS 1.3 tickets (see [`tickets`](crate::tickets)). Returns whether
/// refills remain useful: `false` when the server accepted the unresumed connection
/// (it does not check reuse).
async fn refill_tls13_tickets(
    ctrl: &mut Control,
    settings: &DataSettings<'_>,
    stall: Option<Duration>,
) -> Result<bool> {
    tracing::debug!("no TLS 1.3 ticket left: refilling with a throw-away NLST");
    match data::open(ctrl, settings, "NLST", None).await {
        Ok(mut opened) => {
            let wait = stall.unwrap_or(Duration::from_secs(30));
            let _ = tokio::time::timeout(wait, crate::stream::drain(&mut opened.stream)).await;
            close_with_linger(opened.stream, Duration::ZERO);
            let reply = if opened.final_reply_seen {
                opened.first_reply
            } else {
                ctrl.read_reply().await?
            };
            Ok(!reply.is_completion())
        }
        Err(e) if e.breaks_control() => Err(e),
        Err(_) => {
            // Refused before any data connection (e.g. "450 no files"), or the data
            // connection failed: nothing learnt. If the server still owes a reply for a
            // 1xx, collect it so the control connection stays in step.
            if ctrl.last_reply().is_some_and(Reply::is_preliminary) {
                ctrl.read_reply().await?;
            }
            Ok(true)
        }
    }
}

async fn watchdog(shared: Arc<Shared>, limit: Duration) {
    loop {
        let deadline = shared.state().last_activity + limit;
        tokio::time::sleep_until(deadline).await;
        let mut guard = shared.control.lock().await;
        if guard.is_none() {
            return;
        }
        if !shared.idle_expired() {
            continue;
        }
        shared.mark_closed(CloseReason::Inactivity);
        if let Some(ctrl) = guard.take() {
            tracing::debug!("inactivity timeout: closing the FTP session");
            let _ = quit_control(ctrl, shared.settings.linger.control).await;
        }
        return;
    }
}

impl Drop for FtpSession {
    /// Dropping an open session sends QUIT in the background (if a tokio runtime is
    /// running) instead of cutting the connection.
    fn drop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.abort();
        }
        let Ok(mut guard) = self.shared.control.try_lock() else {
            return;
        };
        if let Some(ctrl) = guard.take() {
            self.shared.mark_closed(CloseReason::Quit);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let linger = self.shared.settings.linger.control;
                rt.spawn(async move {
                    let _ = quit_control(ctrl, linger).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_order_follows_the_preference() {
        let v4: IpAddr = "192.0.2.1".parse().expect("v4");
        let v6: IpAddr = "2001:db8::1".parse().expect("v6");
        let both = vec![v6, v4];
        assert_eq!(
            order_addresses(both.clone(), IpPreference::PreferV4),
            vec![v4, v6]
        );
        assert_eq!(
            order_addresses(both.clone(), IpPreference::PreferV6),
            vec![v6, v4]
        );
        assert_eq!(
            order_addresses(both.clone(), IpPreference::V4Only),
            vec![v4]
        );
        assert_eq!(order_addresses(both, IpPreference::V6Only), vec![v6]);
    }

    #[test]
    fn ip_literals_with_and_without_brackets() {
        assert_eq!(parse_ip_literal("[::1]"), Some("::1".parse().expect("ip")));
        assert_eq!(parse_ip_literal("::1"), Some("::1".parse().expect("ip")));
        assert_eq!(
            parse_ip_literal("127.0.0.1"),
            Some("127.0.0.1".parse().expect("ip"))
        );
        assert_eq!(parse_ip_literal("ftp.example.com"), None);
    }

    #[test]
    fn quoted_257_paths() {
        let r = Reply::new(257, "257 \"/a \"\"b\"\" c\" created");
        assert_eq!(parse_257_path(&r).as_deref(), Some("/a \"b\" c"));
        assert_eq!(parse_257_path(&Reply::new(257, "257 no quotes")), None);
        assert_eq!(parse_257_path(&Reply::new(257, "257 \"open")), None);
        assert_eq!(parse_257_path(&Reply::new(257, "25")), None);
    }

    proptest::proptest! {
        #[test]
        fn reply_value_parsers_never_panic(text in "\\PC{0,60}", code in 100u16..700) {
            let r = Reply::new(code, text);
            let _ = parse_257_path(&r);
            let _ = value_of_213(&r);
            let _ = r.message();
        }
    }
}
