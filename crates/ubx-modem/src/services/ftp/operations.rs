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

use tokio::sync::watch;
use ubx_at::{CmeError, CommandError, CommandKind, Outcome, Params, Response};
use ubx_storage::fs::ModuleFs;

use crate::families::fs::fs_error;
use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::ftp::direct_link;
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::fota;
use crate::services::ftp::op::{Done, FtpOp, remote};
use crate::services::ftp::retrieve::retrieve_file;
use crate::services::ftp::session::{Ftp, failed, login, session};
use crate::services::ftp::store::store;
use crate::services::toolkit::ending::Running;

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
        .map_err(|e| fs_error(ubx_storage::fs::FsError::InvalidName(e)))
}

fn parse(fs: &ModuleFs, op: FtpOp, p: &Params) -> Result<Operation, CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    Ok(match op.code() {
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
    let op = match FtpOp::from_code(op) {
        Some(op) if model.ftp.uftpc_ops.contains(&op.code()) => op,
        _ => return Outcome::Failed(CmeError::OperationNotSupported.into()),
    };
    if op.is_direct_link() {
        return direct_link::start(ctx, op, p);
    }
    background(ctx, op, p).into()
}

/// The operations that answer `OK` at once and report by URC.
fn background(ctx: &Ctx, op: FtpOp, p: &Params) -> Result<Response, CommandError> {
    // `AT+UFTPC=100,<file>,0` suspends a running FOTA download; it is the one operation
    // accepted while another runs.
    if op == FtpOp::Fota && p.num(2)? == Some(0) {
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
    state.ftp.slot.claim(op.code(), FtpFailure::Busy)?;
    let suspend = if let Operation::Fota { .. } = operation {
        let (tx, rx) = watch::channel(false);
        state.ftp.fota_suspend = Some(tx);
        Some(rx)
    } else {
        None
    };
    tracing::info!(
        terminal = ctx.terminal,
        op = op.code(),
        "FTP operation accepted"
    );
    // Spawned under the lock, so a reboot (which takes the lock) always finds the task to end.
    let task = tokio::spawn(run(
        ctx.shared.clone(),
        ctx.terminal,
        op,
        operation,
        suspend,
    ));
    state.ftp.slot.set_task(task.abort_handle());
    drop(state);
    Ok(Response::ok())
}

async fn run(
    shared: Arc<Shared>,
    terminal: TerminalId,
    op: FtpOp,
    operation: Operation,
    suspend: Option<watch::Receiver<bool>>,
) {
    let running = Running::<Ftp>::start(&shared, op.code(), 0);
    let outcome = perform(&shared, terminal, op, operation, suspend).await;
    let code = op.code();
    let mut urcs = Vec::new();
    let result = match &outcome {
        Ok(Done::Plain) => format!("+UUFTPCR: {code},1"),
        Ok(Done::Listing(data)) => {
            let mut urc = format!("+UUFTPCD: {code},{},\"", data.len()).into_bytes();
            urc.extend_from_slice(data);
            urc.push(b'"');
            urcs.push(urc);
            format!("+UUFTPCR: {code},1")
        }
        // SARA-R4 does not give the MD5 (its manual: "MD5 is not supported").
        Ok(Done::Fota(md5)) if shared.model.ftp.fota_md5 => {
            format!("+UUFTPCR: {code},1,\"{md5}\"")
        }
        Ok(Done::Fota(_)) => format!("+UUFTPCR: {code},1"),
        Err(_) => format!("+UUFTPCR: {code},0"),
    };
    urcs.push(result.into_bytes());
    let tidy = |state: &mut crate::module::state::State| {
        if op == FtpOp::Fota {
            state.ftp.fota_suspend = None;
        }
    };
    running.end(terminal, outcome.map(|_| ()), tidy, urcs);
}

async fn perform(
    shared: &Arc<Shared>,
    terminal: TerminalId,
    op: FtpOp,
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
            let listing = if op == FtpOp::List {
                s.list(path.as_deref()).await
            } else {
                s.nlst(path.as_deref()).await
            };
            listing.map(|l| {
                if l.truncated {
                    let op = op.code();
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
            return retrieve_file(shared, &session, &remote, &local, resume).await;
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
            return fota::download(shared, &session, &remote, resume, terminal, suspend).await;
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
