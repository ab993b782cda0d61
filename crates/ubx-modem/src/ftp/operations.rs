//! `+UFTPC`: FTP operations, checked at once and carried out in the background.
//!
//! Each accepted operation becomes one tokio task that uses the shared [`FtpSession`], then
//! reports `+UUFTPCR: <op>,<result>` (after `+UUFTPCD` for listings) to the terminal that
//! issued it, and records the outcome for `+UFTPER`. If that terminal has gone away the URCs are
//! dropped; the operation still completes and the module stays consistent.
//!
//! The operations live one kind per file: [`super::retrieve`] (ops 4 and 100), [`super::store`]
//! (op 5) and [`super::direct_link`] (ops 6 and 7, which answer `CONNECT` instead of `OK`).
//!
//! Parameters are validated before `OK`: an op code this model lacks, a wrong type, a name too
//! long, or a name holding CR, LF or NUL (which would let a second FTP command ride on the first)
//! is refused with an error and nothing reaches the server.

use std::sync::Arc;
use std::time::Duration;

use ftp_client::{ConnectOptions, DataMode, FtpSession, IpPreference, Limits, Linger, Timeouts};
use tokio::sync::{Mutex as AsyncMutex, watch};
use ubx_at::{CmeError, CommandError, CommandKind, Outcome, Params, Response};

use super::errors::FtpFailure;
use super::profile::{FtpMode, Profile};
use super::retrieve::{Target, retrieve};
use super::store::store;
use crate::fs::storage::{FsError, ModuleFs};
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
pub(super) fn remote(p: &Params, i: usize) -> Result<String, CommandError> {
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

/// An optional remote name; an empty string is the same as none (public drivers build
/// `AT+UFTPC=14,"<dir>"` with an empty `<dir>` for the current directory).
fn optional_remote(p: &Params, i: usize) -> Result<Option<String>, CommandError> {
    if p.present(i) && !p.req_str(i)?.is_empty() {
        remote(p, i).map(Some)
    } else {
        Ok(None)
    }
}

/// A module file system name, checked against its naming rules.
fn local(fs: &ModuleFs, p: &Params, i: usize) -> Result<String, CommandError> {
    fs.check_name(p.req_str(i)?)
        .map(str::to_string)
        .map_err(|e| FsError::InvalidName(e).into())
}

fn parse(fs: &ModuleFs, op: i64, p: &Params) -> Result<Operation, CommandError> {
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
                local: local(fs, p, 2)?,
                resume,
            }
        }
        5 => {
            p.at_most(4)?;
            let offset = u64::try_from(p.num(3)?.unwrap_or(0)).map_err(|_| bad())?;
            Operation::Store {
                local: local(fs, p, 1)?,
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
pub(crate) fn uftpc(ctx: &Ctx, kind: &CommandKind) -> Outcome {
    let model = ctx.shared.model;
    let p = match kind {
        CommandKind::Test => return Outcome::Done(Response::line(model.ftp.uftpc_test.as_str())),
        CommandKind::Set(p) => p,
        _ => return Outcome::Failed(CommandError::Syntax),
    };
    let op = match p.req_num(0) {
        Ok(op) => op,
        Err(e) => return Outcome::Failed(e),
    };
    if !model.ftp.uftpc_ops.contains(&op) {
        return Outcome::Failed(CmeError::OperationNotSupported.into());
    }
    if super::direct_link::is_direct_link(op) {
        return super::direct_link::start(ctx, op, p);
    }
    background(ctx, op, p).into()
}

/// The operations that answer `OK` at once and report by URC.
fn background(ctx: &Ctx, op: i64, p: &Params) -> Result<Response, CommandError> {
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
    let operation = parse(&ctx.shared.fs, op, p)?;
    let mut state = ctx.shared.state();
    state.ftp.claim(op)?;
    // A fresh retrieve's file is removed by a reboot; a resumed one keeps what it had.
    if let Operation::Retrieve {
        local,
        resume: false,
        ..
    } = &operation
    {
        state.ftp.writing = Some(local.clone());
    }
    let suspend = if let Operation::Fota { .. } = operation {
        let (tx, rx) = watch::channel(false);
        state.ftp.fota_suspend = Some(tx);
        Some(rx)
    } else {
        None
    };
    tracing::info!(terminal = ctx.terminal, op, "FTP operation accepted");
    // Spawned under the lock, so a reboot (which takes the lock) always finds the task to end.
    let task = tokio::spawn(run(
        ctx.shared.clone(),
        ctx.terminal,
        op,
        operation,
        suspend,
    ));
    state.ftp.task = Some(task.abort_handle());
    drop(state);
    Ok(Response::ok())
}

/// What a successful operation hands back besides success.
pub(super) enum Done {
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
    shared.field.faults.operation_started(op);
    let outcome = perform(&shared, terminal, op, operation, suspend).await;
    shared.field.faults.operation_ended();
    shared.state().ftp.writing = None;
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
        // SARA-R4 does not give the MD5 (its manual: "MD5 is not supported").
        Ok(Done::Fota(md5)) if shared.model.ftp.fota_md5 => format!("+UUFTPCR: {op},1,\"{md5}\""),
        Ok(Done::Fota(_)) => format!("+UUFTPCR: {op},1"),
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
pub(super) fn session(shared: &Shared) -> Result<Arc<AsyncMutex<FtpSession>>, FtpFailure> {
    let mut state = shared.state();
    if !crate::psd::ftp_bearer_up(&state, shared.model) {
        if let Some(s) = state.ftp.session.take() {
            tokio::spawn(close_session(s));
            return Err(FtpFailure::NoActiveContext);
        }
        return Err(FtpFailure::NotLoggedIn);
    }
    state.ftp.session.clone().ok_or(FtpFailure::NotLoggedIn)
}

/// Turns an engine error into a failure, forgetting the session if the error closed it.
pub(super) fn failed(
    shared: &Shared,
    session: &Arc<AsyncMutex<FtpSession>>,
    e: ftp_client::FtpError,
) -> FtpFailure {
    let mut failure = FtpFailure::from_ftp(&e);
    tracing::debug!(error = %e, "FTP engine error");
    if !crate::psd::ftp_bearer_up(&shared.state(), shared.model) {
        // The connection broke because the network took the context away (+CGEV: NW PDN
        // DEACT, a lost registration): that is the cause the module reports.
        failure = FtpFailure::NoActiveContext;
    }
    if e.session_closed() {
        forget_session(shared, session);
    }
    failure
}

/// Takes `session` out of the module state if it is still the module's session (a new login
/// may have replaced it meanwhile); returns it so the caller can close it.
pub(super) fn forget_session(
    shared: &Shared,
    session: &Arc<AsyncMutex<FtpSession>>,
) -> Option<Arc<AsyncMutex<FtpSession>>> {
    let mut state = shared.state();
    let current = state
        .ftp
        .session
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, session));
    if current {
        state.ftp.session.take()
    } else {
        None
    }
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
    let cid = crate::psd::service_cid(&state, shared.model, profile.cid)
        .ok_or(FtpFailure::NoActiveContext)?;
    let ctx = state
        .pdp
        .contexts
        .get(&cid)
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
    // `+UFTP=8,1,<id>` names the security profile (`+USECPRF`); profile 0 by default.
    let security_profile = profile
        .control_security
        .profile
        .or(profile.data_security.profile)
        .unwrap_or(0);
    let tls = if secure {
        let security = state
            .security
            .profiles
            .get(usize::from(security_profile))
            .cloned()
            .unwrap_or_default();
        let options = crate::security::tls_options(
            &security,
            shared.fs.root(),
            server.trim_start_matches('[').trim_end_matches(']'),
            profile.data_security.enabled,
        )
        .map_err(|problem| {
            tracing::info!(?problem, "security profile unusable");
            FtpFailure::SecurityProfile
        })?;
        Some(options)
    } else {
        None
    };
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
    opts.timeouts = match profile.inactivity_timeout() {
        None => Timeouts::default(),
        Some(limit) => Timeouts {
            reply: limit,
            data_stall: Some(limit),
            inactivity: Some(limit),
            ..Timeouts::default()
        },
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
    // Every connection of the session goes through the module's field: its radio link and
    // the faults a test sets (crate::field).
    opts.socket_layer = Some(Arc::new(crate::field::socket::FieldLayer(
        shared.field.clone(),
    )));
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
