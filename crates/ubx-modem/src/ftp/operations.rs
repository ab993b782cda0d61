//! `+UFTPC`: FTP operations, checked at once and carried out in the background.
//!
//! Each accepted operation becomes one tokio task that uses the shared [`FtpSession`], then
//! reports `+UUFTPCR: <op>,<result>` (after `+UUFTPCD` for listings) to the terminal that
//! issued it, and records the outcome for `+UFTPER`. If that terminal has gone away the URCs are
//! dropped; the operation still completes and the module stays consistent.
//!
//! Parameters are validated before `OK`: an op code this model lacks, a wrong type, a name too
//! long, or a name holding CR, LF or NUL (which would let a second FTP command ride on the first)
//! is refused with an error and nothing reaches the server.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use ftp_client::{
    CertVerification, ConnectOptions, DataMode, DataProtection, FtpSession, IpPreference, Limits,
    Linger, StoreMode, Timeouts, TlsOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex as AsyncMutex, watch};
use ubx_at::{CmeError, CommandError, CommandKind, Params, Response};

use super::errors::FtpFailure;
use super::profile::{FtpMode, Profile};
use super::spool::{CHUNK, Spool};
use crate::filesystem::{FsError, check_name};
use crate::pdp::PdpType;
use crate::{Ctx, Shared, TerminalId};

/// Longest `<remote_filename>` (chapter: 256 characters).
pub const MAX_REMOTE_NAME: usize = 256;

/// One operation, with its parameters validated.
#[derive(Debug, Clone)]
enum Operation {
    Logout,
    Login,
    Delete(String),
    Rename(String, String),
    Retrieve {
        remote: String,
        local: String,
        resume: bool,
    },
    Store {
        local: String,
        remote: String,
        offset: u64,
    },
    Cwd(String),
    Mkdir(String),
    Rmdir(String),
    List(Option<String>),
    NameList(Option<String>),
    Fota {
        remote: String,
        resume: bool,
    },
}

/// A remote name or path: at most 256 bytes of UTF-8 with no control characters — CR, LF and
/// NUL in particular, which would end the FTP command early.
fn remote(p: &Params, i: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    if raw.len() > MAX_REMOTE_NAME {
        return Err(CmeError::TextTooLong.into());
    }
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(s.to_string())
}

fn optional_remote(p: &Params, i: usize) -> Result<Option<String>, CommandError> {
    if p.present(i) {
        remote(p, i).map(Some)
    } else {
        Ok(None)
    }
}

/// A module file system name, checked against its naming rules.
fn local(p: &Params, i: usize) -> Result<String, CommandError> {
    check_name(p.req_str(i)?)
        .map(str::to_string)
        .map_err(|e| FsError::InvalidName(e).into())
}

fn parse(op: i64, p: &Params) -> Result<Operation, CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    Ok(match op {
        0 => {
            p.at_most(1)?;
            Operation::Logout
        }
        1 => {
            p.at_most(1)?;
            Operation::Login
        }
        2 => {
            p.at_most(2)?;
            Operation::Delete(remote(p, 1)?)
        }
        3 => {
            p.at_most(3)?;
            Operation::Rename(remote(p, 1)?, remote(p, 2)?)
        }
        4 => {
            p.at_most(4)?;
            let resume = match p.num(3)? {
                None | Some(0) => false,
                Some(1) => true,
                Some(_) => return Err(bad()),
            };
            Operation::Retrieve {
                remote: remote(p, 1)?,
                local: local(p, 2)?,
                resume,
            }
        }
        5 => {
            p.at_most(4)?;
            let offset = u64::try_from(p.num(3)?.unwrap_or(0)).map_err(|_| bad())?;
            Operation::Store {
                local: local(p, 1)?,
                remote: remote(p, 2)?,
                offset,
            }
        }
        8 => {
            p.at_most(2)?;
            Operation::Cwd(remote(p, 1)?)
        }
        10 => {
            p.at_most(2)?;
            Operation::Mkdir(remote(p, 1)?)
        }
        11 => {
            p.at_most(2)?;
            Operation::Rmdir(remote(p, 1)?)
        }
        13 => {
            p.at_most(2)?;
            Operation::List(optional_remote(p, 1)?)
        }
        14 => {
            p.at_most(2)?;
            Operation::NameList(optional_remote(p, 1)?)
        }
        100 => {
            p.at_most(3)?;
            let resume = match p.num(2)? {
                None => false,
                Some(1) => true,
                Some(_) => return Err(bad()),
            };
            Operation::Fota {
                remote: remote(p, 1)?,
                resume,
            }
        }
        _ => return Err(bad()),
    })
}

/// `AT+UFTPC=...`: validate, answer, and start the work.
pub(crate) fn uftpc(ctx: &Ctx, kind: &CommandKind) -> Result<Response, CommandError> {
    let model = ctx.shared.model;
    let p = match kind {
        CommandKind::Test => return Ok(Response::line(model.uftpc_test)),
        CommandKind::Set(p) => p,
        _ => return Err(CommandError::Syntax),
    };
    let op = p.req_num(0)?;
    if !model.uftpc_ops.contains(&op) {
        return Err(CmeError::OperationNotSupported.into());
    }
    // `AT+UFTPC=100,<file>,0` suspends a running FOTA download; it is the one operation
    // accepted while another runs.
    if op == 100 && p.num(2)? == Some(0) {
        p.at_most(3)?;
        remote(p, 1)?;
        let mut state = ctx.shared.state();
        return match state.ftp.fota_suspend.take() {
            Some(suspend) => {
                let _ = suspend.send(true);
                Ok(Response::ok())
            }
            None => Err(CmeError::OperationNotAllowed.into()),
        };
    }
    let operation = parse(op, p)?;
    let mut state = ctx.shared.state();
    if state.ftp.busy.is_some() {
        state.ftp.record(Err(FtpFailure::Busy));
        return Err(super::busy_error());
    }
    state.ftp.busy = Some(op);
    let suspend = if let Operation::Fota { .. } = operation {
        let (tx, rx) = watch::channel(false);
        state.ftp.fota_suspend = Some(tx);
        Some(rx)
    } else {
        None
    };
    drop(state);
    tracing::info!(terminal = ctx.terminal, op, "FTP operation accepted");
    tokio::spawn(run(
        ctx.shared.clone(),
        ctx.terminal,
        op,
        operation,
        suspend,
    ));
    Ok(Response::ok())
}

/// What a successful operation hands back besides success.
enum Done {
    Plain,
    Listing(Vec<u8>),
    Fota(String),
}

async fn run(
    shared: Arc<Shared>,
    terminal: TerminalId,
    op: i64,
    operation: Operation,
    suspend: Option<watch::Receiver<bool>>,
) {
    let outcome = perform(&shared, terminal, op, operation, suspend).await;
    let record = outcome.as_ref().map(|_| ()).map_err(|f| *f);
    let mut urcs = Vec::new();
    let result = match outcome {
        Ok(Done::Plain) => format!("+UUFTPCR: {op},1"),
        Ok(Done::Listing(data)) => {
            let mut urc = format!("+UUFTPCD: {op},{},\"", data.len()).into_bytes();
            urc.extend_from_slice(&data);
            urc.push(b'"');
            urcs.push(urc);
            format!("+UUFTPCR: {op},1")
        }
        Ok(Done::Fota(md5)) => format!("+UUFTPCR: {op},1,\"{md5}\""),
        Err(failure) => {
            tracing::info!(terminal, op, ?failure, "FTP operation failed");
            format!("+UUFTPCR: {op},0")
        }
    };
    {
        let mut state = shared.state();
        state.ftp.record(record);
        state.ftp.busy = None;
        if op == 100 {
            state.ftp.fota_suspend = None;
        }
    }
    urcs.push(result.into_bytes());
    for urc in urcs {
        shared.urc(terminal, urc);
    }
}

/// Closes a session politely (QUIT), whatever state it is in.
pub(crate) async fn close_session(session: Arc<AsyncMutex<FtpSession>>) {
    let mut s = session.lock().await;
    let _ = s.quit().await;
}

/// The logged-in session, if its context is still up; otherwise the session is dropped.
fn session(shared: &Shared) -> Result<Arc<AsyncMutex<FtpSession>>, FtpFailure> {
    let mut state = shared.state();
    let cid = state.ftp.profile.cid;
    if state.pdp.active_addrs(cid).is_none() {
        if let Some(s) = state.ftp.session.take() {
            tokio::spawn(close_session(s));
            return Err(FtpFailure::NoActiveContext);
        }
        return Err(FtpFailure::NotLoggedIn);
    }
    state.ftp.session.clone().ok_or(FtpFailure::NotLoggedIn)
}

/// Turns an engine error into a failure, forgetting the session if the error closed it.
fn failed(
    shared: &Shared,
    session: &Arc<AsyncMutex<FtpSession>>,
    e: ftp_client::FtpError,
) -> FtpFailure {
    let failure = FtpFailure::from_ftp(&e);
    tracing::debug!(error = %e, "FTP engine error");
    if e.session_closed() {
        let mut state = shared.state();
        if state
            .ftp
            .session
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            state.ftp.session = None;
        }
    }
    failure
}

async fn perform(
    shared: &Arc<Shared>,
    terminal: TerminalId,
    op: i64,
    operation: Operation,
    suspend: Option<watch::Receiver<bool>>,
) -> Result<Done, FtpFailure> {
    match operation {
        Operation::Login => return login(shared).await.map(|()| Done::Plain),
        Operation::Logout => {
            let session = shared
                .state()
                .ftp
                .session
                .take()
                .ok_or(FtpFailure::NotLoggedIn)?;
            let mut s = session.lock().await;
            return match s.quit().await {
                Ok(_) => Ok(Done::Plain),
                Err(e) => Err(FtpFailure::from_ftp(&e)),
            };
        }
        _ => {}
    }
    let session = session(shared)?;
    let mut s = session.lock().await;
    let result = match operation {
        Operation::Delete(path) => s.dele(&path).await.map(|_| Done::Plain),
        Operation::Rename(from, to) => s.rename(&from, &to).await.map(|_| Done::Plain),
        Operation::Cwd(path) => s.cwd(&path).await.map(|_| Done::Plain),
        Operation::Mkdir(path) => s.mkd(&path).await.map(|_| Done::Plain),
        Operation::Rmdir(path) => s.rmd(&path).await.map(|_| Done::Plain),
        Operation::List(path) | Operation::NameList(path) => {
            let listing = if op == 13 {
                s.list(path.as_deref()).await
            } else {
                s.nlst(path.as_deref()).await
            };
            listing.map(|l| {
                if l.truncated {
                    tracing::warn!(op, cap = l.data.len(), "listing longer than the cap: cut");
                }
                Done::Listing(l.data)
            })
        }
        Operation::Retrieve {
            remote,
            local,
            resume,
        } => {
            drop(s);
            return retrieve(
                shared,
                &session,
                &remote,
                Target::File {
                    name: local,
                    resume,
                },
                None,
            )
            .await;
        }
        Operation::Store {
            local,
            remote,
            offset,
        } => {
            drop(s);
            return store(shared, &session, &local, &remote, offset).await;
        }
        Operation::Fota { remote, resume } => {
            drop(s);
            {
                // Resuming appends to the image in the FOTA area, which is only right if that
                // image is the start of the same remote file (`retrieve` records which).
                let state = shared.state();
                if resume && state.ftp.fota_interrupted.as_deref() != Some(remote.as_str()) {
                    return Err(FtpFailure::NothingToResume);
                }
            }
            let target = Target::Fota { resume, terminal };
            let result = retrieve(shared, &session, &remote, target, suspend).await;
            if result.is_ok() {
                shared.state().ftp.fota_interrupted = None;
            }
            return result;
        }
        Operation::Login | Operation::Logout => unreachable_operation(),
    };
    drop(s);
    result.map_err(|e| failed(shared, &session, e))
}

/// Login and logout return before the session dispatch; this keeps the match exhaustive.
fn unreachable_operation() -> Result<Done, ftp_client::FtpError> {
    Err(ftp_client::ErrorKind::InvalidArgument("operation dispatched twice".into()).into())
}

/// Builds the engine's options from the profile and the profile's PDP context.
fn connect_options(shared: &Shared, profile: &Profile) -> Result<ConnectOptions, FtpFailure> {
    let state = shared.state();
    let ctx = state
        .pdp
        .contexts
        .get(&profile.cid)
        .filter(|c| c.active)
        .ok_or(FtpFailure::NoActiveContext)?;
    let server = profile.server().ok_or(FtpFailure::NoServer)?;
    // The context's PDP type and the preferred protocol choose the family (chapter: IPv4v6
    // with no preference means IPv4).
    let ip_preference = match (ctx.pdp_type, profile.preferred_protocol) {
        (PdpType::Ip, _) => IpPreference::V4Only,
        (PdpType::Ipv6, _) => IpPreference::V6Only,
        (PdpType::Ipv4v6, Some(1)) => IpPreference::PreferV6,
        (PdpType::Ipv4v6, _) => IpPreference::PreferV4,
    };
    let secure = profile.control_security.enabled || profile.data_security.enabled;
    let tls = secure.then(|| TlsOptions {
        // The security profiles ship with no certificate validation (see docs/FIDELITY.md).
        verification: CertVerification::None,
        data_protection: if profile.data_security.enabled {
            DataProtection::Private
        } else {
            DataProtection::Clear
        },
        ..TlsOptions::default()
    });
    let user = if profile.username.is_empty() {
        "anonymous".to_string()
    } else {
        profile.username.clone()
    };
    let mut opts = ConnectOptions::new(
        server.trim_start_matches('[').trim_end_matches(']'),
        profile.port,
        user,
        profile.password.as_str(),
    );
    opts.ip_preference = ip_preference;
    opts.account = (!profile.account.is_empty()).then(|| profile.account.clone());
    opts.data_mode = match profile.mode {
        FtpMode::Passive => DataMode::Passive,
        FtpMode::Active => DataMode::Active { ports: None },
    };
    opts.tls = tls;
    // The inactivity timeout is about incoming traffic (chapter: "the FTP session will not be
    // terminated in the absence of incoming traffic" when 0): a server that stops answering a
    // command or stalls a transfer for that long ends the session too.
    opts.timeouts = match profile.timeout {
        0 => Timeouts::default(),
        secs => {
            let limit = Duration::from_secs(u64::from(secs));
            Timeouts {
                reply: limit,
                data_stall: Some(limit),
                inactivity: Some(limit),
                ..Timeouts::default()
            }
        }
    };
    opts.linger = Linger {
        control: Duration::from_secs(u64::from(profile.linger_cmd)),
        data: Duration::from_secs(u64::from(profile.linger_data)),
    };
    opts.limits = Limits {
        max_listing_bytes: shared.listing_cap,
        ..Limits::default()
    };
    opts.resolver = Arc::new(shared.dns.clone());
    Ok(opts)
}

async fn login(shared: &Arc<Shared>) -> Result<(), FtpFailure> {
    let (profile, old) = {
        let mut state = shared.state();
        (state.ftp.profile.clone(), state.ftp.session.take())
    };
    // A second login starts a fresh session.
    if let Some(old) = old {
        close_session(old).await;
    }
    let opts = connect_options(shared, &profile)?;
    tracing::info!(host = %opts.host, port = opts.port, user = %opts.user, "FTP login");
    let session = FtpSession::connect(opts).await.map_err(|e| {
        tracing::info!(error = %e, "FTP login failed");
        FtpFailure::from_ftp(&e)
    })?;
    shared.state().ftp.session = Some(Arc::new(AsyncMutex::new(session)));
    Ok(())
}

/// Where a retrieve writes.
enum Target {
    /// A module file; `resume` continues after the bytes already in it.
    File { name: String, resume: bool },
    /// The hidden FOTA area; progress URCs go to `terminal`.
    Fota { resume: bool, terminal: TerminalId },
}

fn fs_failure(e: &FsError) -> FtpFailure {
    match e {
        FsError::NotEnoughSpace => FtpFailure::FileSystemFull,
        _ => FtpFailure::LocalFile,
    }
}

/// `+UUFTPCR: 100,<stored> / <total>` each time another 5 % (at least 64 KiB) of a FOTA image
/// has arrived (docs/FIDELITY.md); the final one is sent when the download completes.
struct FotaProgress {
    terminal: TerminalId,
    total: u64,
    step: u64,
    next: u64,
}

impl FotaProgress {
    fn new(terminal: TerminalId, offset: u64, total: u64) -> Self {
        let step = (total / 20).max(64 * 1024);
        FotaProgress {
            terminal,
            total,
            step,
            next: offset + step,
        }
    }

    /// `stored` bytes of the image have arrived.
    fn received(&mut self, shared: &Shared, stored: u64) {
        if stored >= self.next && stored < self.total {
            shared.urc(
                self.terminal,
                format!("+UUFTPCR: 100,{stored} / {}", self.total),
            );
            self.next = stored - stored % self.step + self.step;
        }
    }
}

/// Why a retrieve's receive loop ended.
enum Stop {
    /// The server closed the data connection: the whole file (or what the server sends) arrived.
    End,
    /// `AT+UFTPC=100,...,0` (or `AT+UFTP=30,0`) asked to stop.
    Suspended,
    /// The spool stopped on a failed write; [`Spool::finish`] says why.
    Disk,
    /// Receiving failed.
    Network(std::io::Error),
}

/// RETR into the module file system or the FOTA area, with REST when resuming.
async fn retrieve(
    shared: &Arc<Shared>,
    session: &Arc<AsyncMutex<FtpSession>>,
    remote: &str,
    target: Target,
    mut suspend: Option<watch::Receiver<bool>>,
) -> Result<Done, FtpFailure> {
    let fs = &shared.fs;
    let offset = match &target {
        Target::File { name, resume: true } => fs.size(name).unwrap_or(0),
        Target::File { resume: false, .. } => 0,
        Target::Fota { resume: true, .. } => fs.fota_size().map_err(|e| fs_failure(&e))?,
        Target::Fota { resume: false, .. } => 0,
    };
    let mut s = session.lock().await;
    // FOTA progress needs the image's size.
    let total = match &target {
        Target::Fota { .. } => match s.size(remote).await {
            Ok(n) => Some(n),
            Err(e) => return Err(failed(shared, session, e)),
        },
        Target::File { .. } => None,
    };
    // Stopping a download early (suspend, full file system) goes through `finish`, which sends
    // ABOR and reads the server's replies, so the session stays usable for a resume.
    // Open the download before touching the local file, so a refused RETR leaves it as it was.
    let mut download = match s.retrieve(remote, offset).await {
        Ok(d) => d,
        Err(e) => return Err(failed(shared, session, e)),
    };
    // A file this retrieve creates is removed again if nothing arrives (e.g. `150` then `550`).
    let created = matches!(&target, Target::File { name, .. } if !fs.exists(name));
    let writer = match &target {
        Target::File { name, resume } => fs.create_writer(name, *resume),
        Target::Fota { resume, .. } => fs.fota_writer(*resume),
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(fs_failure(&e));
        }
    };
    let mut progress = match (&target, total) {
        (Target::Fota { terminal, .. }, Some(total)) => {
            Some(FotaProgress::new(*terminal, offset, total))
        }
        _ => None,
    };
    if let Target::Fota { .. } = &target {
        // From here on the FOTA area holds (the start of) this file: the one a resume may
        // continue.
        shared.state().ftp.fota_interrupted = Some(remote.to_string());
    }
    let mut spool = Spool::start(writer);
    let stop = loop {
        let Some(mut chunk) = spool.chunk().await else {
            break Stop::Disk;
        };
        // Fill at least half a chunk before handing it over (a read returns what the socket or
        // one TLS record holds, often far less).
        let mut filled = 0;
        let mut stop = None;
        while filled < CHUNK / 2 {
            let read = match suspend.as_mut() {
                Some(rx) => tokio::select! {
                    r = download.read(&mut chunk[filled..]) => r,
                    _ = rx.wait_for(|s| *s) => {
                        stop = Some(Stop::Suspended);
                        break;
                    }
                },
                None => download.read(&mut chunk[filled..]).await,
            };
            match read {
                Ok(0) => {
                    stop = Some(Stop::End);
                    break;
                }
                Ok(n) => filled += n,
                Err(e) => {
                    stop = Some(Stop::Network(e));
                    break;
                }
            }
            if let Some(progress) = progress.as_mut() {
                progress.received(shared, offset + download.bytes());
            }
        }
        // What arrived before the end, a suspend or a broken connection is kept: a resume
        // continues from the size on disk.
        if filled > 0 && !spool.write(chunk, filled).await {
            break Stop::Disk;
        }
        if let Some(stop) = stop {
            break stop;
        }
    };
    // Everything received is on disk (or the disk refused it) before anyone looks at the file.
    let (writer, written) = spool.finish().await;
    let cleanup = || {
        let nothing_written = writer.as_ref().is_some_and(|w| w.written() == 0);
        if let (true, true, Target::File { name, .. }) = (created, nothing_written, &target) {
            let _ = fs.delete(name);
        }
    };
    match (stop, written) {
        (Stop::Network(e), _) => {
            let e = download.fail(e).await;
            cleanup();
            return Err(failed(shared, session, e));
        }
        (Stop::Suspended, _) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(FtpFailure::Suspended);
        }
        (_, Err(e)) => {
            let _ = download.finish().await; // before the end: ABOR
            return Err(fs_failure(&e));
        }
        (Stop::Disk, Ok(())) => {
            // Not reached: the spool stops early only on a failed write (or a panic), and
            // `finish` reports both as an error, handled above.
            let _ = download.finish().await;
            return Err(FtpFailure::LocalFile);
        }
        (Stop::End, Ok(())) => {
            if let Err(e) = download.finish().await {
                cleanup();
                return Err(failed(shared, session, e));
            }
        }
    }
    drop(s);
    match target {
        Target::File { .. } => Ok(Done::Plain),
        Target::Fota { terminal, .. } => {
            let stored = fs.fota_size().map_err(|e| fs_failure(&e))?;
            shared.urc(
                terminal,
                format!("+UUFTPCR: 100,{stored} / {}", total.unwrap_or(stored)),
            );
            let md5 = fs
                .fota_md5_hex()
                .map_err(|e| fs_failure(&e))?
                .unwrap_or_default();
            Ok(Done::Fota(md5))
        }
    }
}

/// STOR (with REST when `offset` > 0) from the module file system.
async fn store(
    shared: &Arc<Shared>,
    session: &Arc<AsyncMutex<FtpSession>>,
    local: &str,
    remote: &str,
    offset: u64,
) -> Result<Done, FtpFailure> {
    let mut reader = shared.fs.open_reader(local).map_err(|e| fs_failure(&e))?;
    if offset > reader.len() {
        return Err(FtpFailure::LocalFile);
    }
    reader
        .seek(SeekFrom::Start(offset))
        .map_err(|_| FtpFailure::LocalFile)?;
    let mut s = session.lock().await;
    let mode = if offset > 0 {
        StoreMode::Resume(offset)
    } else {
        StoreMode::Replace
    };
    let mut upload = match s.store(remote, mode).await {
        Ok(u) => u,
        Err(e) => return Err(failed(shared, session, e)),
    };
    // Read on this task: a read-ahead thread was tried and gained nothing measurable on two
    // cores (docs/BENCHMARKS.md); reads from the page cache are short beside the sends.
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                let _ = upload.abort().await;
                return Err(FtpFailure::LocalFile);
            }
        };
        if let Err(e) = upload.write_all(&buf[..n]).await {
            let e = upload.fail(e).await;
            return Err(failed(shared, session, e));
        }
    }
    let result = upload.finish().await;
    drop(s);
    result
        .map(|_| Done::Plain)
        .map_err(|e| failed(shared, session, e))
}
