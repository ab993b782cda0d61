//! `AT+UFTPC=6` and `AT+UFTPC=7`: FTP direct link, the file carried straight between the server
//! and the host through the terminal in transparent data mode.
//!
//! As the chapter describes it (shared/spec/lexi-r10-ftp-at-commands.txt, op codes 6 and 7):
//!
//! ```text
//! retrieve:  AT+UFTPC=6,"f"[,<offset>]  →  CONNECT  <the file's bytes>  DISCONNECT  OK
//! store:     AT+UFTPC=7,"f"[,<offset>]  →  CONNECT  ← host bytes … ≥ 2 s … +++  DISCONNECT  OK
//! ```
//!
//! The command is checked at once (op code, name, offset, no other FTP operation running), then
//! answered only once the server has accepted `RETR`/`STOR` (after `REST <offset>` when one is
//! given): `CONNECT` and data mode, or — the server refused, no session, no data connection — a
//! `+CME ERROR` and no data mode. Either way the outcome follows as `+UUFTPCR: <op>,<1|0>` (after
//! the final result code) and `+UFTPER` is set as for every other operation; drivers written for
//! u-blox modules wait for that URC after the `+++` (docs/FIDELITY.md).
//!
//! A retrieve ends by itself when the server's data ends; `+++` (or DTR) ends it early with
//! `ABOR`. A store ends when the host escapes: the data connection is closed and the server's
//! `226` (or its refusal) awaited. A host that goes away mid-transfer aborts it; the session
//! stays usable. The bytes move through [`crate::module::data_link`], whose bounded channels carry the
//! backpressure both ways; a retrieve reads the server a [`LinkEnd::piece`] at a time, so toward a
//! UART it stops reading once a few KiB wait for the line, and `+++` ends it with little left to
//! drain.

use std::sync::Arc;
use std::time::Duration;

use ftp_client::StoreMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ubx_at::{CmeError, CommandError, Outcome, Params};

use tokio::time::Instant;

use crate::module::data_link::{self, HostGone, LinkEnd};
use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::op::{FtpOp, remote};
use crate::services::ftp::session::{Ftp, close_session, failed, forget_session, session};
use crate::services::ftp::triggers::{SendBuffer, Triggers};
use crate::services::toolkit::arbiter::{DirectLink, Holder};
use crate::services::toolkit::ending::Running;

/// The error of a direct link that could not start (docs/FIDELITY.md): `+UFTPER` tells why.
const REFUSED: CmeError = CmeError::OperationNotAllowed;

/// Checks `AT+UFTPC=6/7,...` and starts the operation; the terminal waits for its answer.
pub(crate) fn start(ctx: &Ctx, op: FtpOp, p: &Params) -> Outcome {
    let parsed = (|| -> Result<(String, u64), CommandError> {
        p.at_most(3)?;
        let name = remote(p, 1)?;
        let offset = u64::try_from(p.num(2)?.unwrap_or(0))
            .map_err(|_| CommandError::from(CmeError::OperationNotSupported))?;
        Ok((name, offset))
    })();
    let (name, offset) = match parsed {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(e),
    };
    let request = {
        let mut state = ctx.shared.state();
        if let Err(e) = state.ftp.slot.claim(op.code(), FtpFailure::Busy) {
            return Outcome::Failed(e);
        }
        // The module's one direct link (another service may hold it).
        let holder = Holder {
            service: "ftp",
            op: op.code(),
        };
        let link = match ctx.shared.direct_links.claim(holder) {
            Ok(link) => link,
            Err(taken) => {
                tracing::info!(holder = ?taken.0, "FTP direct link refused: another is open");
                state.ftp.slot.release();
                state.ftp.slot.record(Err(FtpFailure::Busy));
                return Outcome::Failed(REFUSED.into());
            }
        };
        let profile = &state.ftp.profile;
        Request {
            op,
            link,
            name,
            offset,
            inactivity: profile.inactivity_timeout(),
            triggers: profile.triggers,
        }
    };
    let (port, end) = data_link::channel(ctx.shared.model.ftp.direct_link.framing());
    ctx.link.set(Some(port));
    tracing::info!(
        terminal = ctx.terminal,
        op = op.code(),
        "FTP direct link requested"
    );
    // Spawned under the lock, so a reboot (which takes the lock) always finds the task to end.
    let mut state = ctx.shared.state();
    let task = tokio::spawn(run(ctx.shared.clone(), ctx.terminal, request, end));
    state.ftp.slot.set_task(task.abort_handle());
    drop(state);
    Outcome::Pending
}

/// A direct link as asked for, with the profile's settings at the time.
struct Request {
    op: FtpOp,
    /// The module's direct link, held until the operation ends.
    link: DirectLink,
    name: String,
    offset: u64,
    /// `+UFTP=5`'s inactivity timeout.
    inactivity: Option<Duration>,
    /// `+UFTP=9/10/11` (a store's sending).
    triggers: Triggers,
}

/// A direct link that failed, and whether it got as far as `CONNECT`.
struct Failed {
    failure: FtpFailure,
    connected: bool,
}

fn before(failure: FtpFailure) -> Failed {
    Failed {
        failure,
        connected: false,
    }
}

fn after(failure: FtpFailure) -> Failed {
    Failed {
        failure,
        connected: true,
    }
}

async fn run(shared: Arc<Shared>, terminal: TerminalId, request: Request, mut link: LinkEnd) {
    let Request {
        op,
        link: direct_link,
        name,
        offset,
        inactivity,
        triggers,
    } = request;
    // Whatever happens below (a panic included), the service is free again afterwards.
    let running = Running::<Ftp>::start(&shared, op.code(), 0);
    let outcome = if op == FtpOp::DirectRetrieve {
        retrieve(&shared, &mut link, &name, offset, inactivity).await
    } else {
        let buffer = SendBuffer::new(triggers);
        store(&shared, &mut link, &name, offset, inactivity, buffer).await
    };
    drop(direct_link);
    // The URC is queued before the terminal hears the link is over: it is held until the final
    // result code either way.
    let result = u8::from(outcome.is_ok());
    let urc = format!("+UUFTPCR: {},{result}", op.code()).into_bytes();
    let record = outcome.as_ref().map(|_| ()).map_err(|f| f.failure);
    running.end(terminal, record, |_| {}, vec![urc]);
    if let Err(Failed {
        connected: false, ..
    }) = outcome
    {
        link.refuse(REFUSED.into()).await;
    }
    // Dropping the link ends data mode: DISCONNECT, OK.
}

/// The host left or went away before the transfer was complete (`+++`, DTR or a closed
/// terminal alike: the retrieve is cut either way).
fn host_left() -> Failed {
    after(FtpFailure::HostLeft)
}

/// RETR (after REST when `offset` > 0), the bytes straight to the host.
///
/// `CONNECT` waits for the first byte of the file (or its end): some servers answer `150` and
/// only then refuse (`550` from libunftp for a missing file), and a refusal must reach the host
/// as an error, not as an empty file.
async fn retrieve(
    shared: &Arc<Shared>,
    link: &mut LinkEnd,
    remote: &str,
    offset: u64,
    inactivity: Option<Duration>,
) -> Result<(), Failed> {
    let session = session(shared).map_err(before)?;
    let mut s = session.lock().await;
    let mut download = match s.retrieve(remote, offset).await {
        Ok(d) => d,
        Err(e) => return Err(before(failed(shared, &session, e))),
    };
    let mut connected = false;
    let phase = |connected: bool, failure| Failed { failure, connected };
    // The next piece is read from the server only once the host's side has room for it.
    let piece = link.piece().await;
    loop {
        let mut chunk = vec![0u8; piece];
        let read = tokio::select! {
            biased;
            _ = link.host_gone() => {
                let _ = download.finish().await; // before the end: ABOR
                return Err(host_left());
            }
            read = download.read(&mut chunk) => read,
        };
        let mut filled = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let e = download.fail(e).await;
                return Err(phase(connected, failed(shared, &session, e)));
            }
        };
        // Take what else is ready at once (one read returns one TLS record or what one
        // segment held), so a chunk crosses to the terminal in one piece, not dozens.
        let mut end = None;
        while filled < piece / 2 {
            match download.try_read(&mut chunk[filled..]) {
                None => break,
                Some(Ok(0)) => {
                    end = Some(Ok(()));
                    break;
                }
                Some(Ok(n)) => filled += n,
                Some(Err(e)) => {
                    end = Some(Err(e));
                    break;
                }
            }
        }
        if !connected {
            if !link.connected().await {
                let _ = download.finish().await; // before the end: ABOR
                return Err(host_left());
            }
            connected = true;
        }
        chunk.truncate(filled);
        // A host that reads nothing for the inactivity time (a PTY or serial host gone away
        // cannot be told from a slow one otherwise) ends the link as a silent server would.
        let sent = match inactivity {
            Some(limit) => tokio::time::timeout(limit, link.send(chunk)).await,
            None => Ok(link.send(chunk).await),
        };
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_gone)) => {
                let _ = download.finish().await; // before the end: ABOR
                return Err(host_left());
            }
            Err(_stuck) => {
                let _ = download.finish().await; // before the end: ABOR
                return Err(after(FtpFailure::InactivityTimeout));
            }
        }
        match end {
            None => {}
            Some(Ok(())) => break,
            Some(Err(e)) => {
                let e = download.fail(e).await;
                return Err(after(failed(shared, &session, e)));
            }
        }
    }
    let result = download.finish().await;
    drop(s);
    if let Err(e) = result {
        return Err(phase(connected, failed(shared, &session, e)));
    }
    // An empty file: CONNECT, then at once DISCONNECT.
    if !connected && !link.connected().await {
        return Err(host_left());
    }
    Ok(())
}

/// STOR (after REST when `offset` > 0) of what the host sends until it escapes.
async fn store(
    shared: &Arc<Shared>,
    link: &mut LinkEnd,
    remote: &str,
    offset: u64,
    inactivity: Option<Duration>,
    mut buffer: SendBuffer,
) -> Result<(), Failed> {
    let session = session(shared).map_err(before)?;
    let mut s = session.lock().await;
    // `Resume(0)` is a plain STOR.
    let mut upload = match s.store(remote, StoreMode::Resume(offset)).await {
        Ok(u) => u,
        Err(e) => return Err(before(failed(shared, &session, e))),
    };
    if !link.connected().await {
        let _ = upload.abort().await;
        return Err(host_left());
    }
    loop {
        // Host bytes held by a timer trigger go when it fires; the inactivity clock keeps
        // running meanwhile.
        let idle_until = inactivity.map(|limit| Instant::now() + limit);
        let next = loop {
            let wake = match (buffer.deadline(), idle_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let received = match wake {
                Some(wake) => tokio::time::timeout_at(wake, link.receive()).await,
                None => Ok(link.receive().await),
            };
            match received {
                Ok(r) => break Ok(r),
                Err(_) if idle_until.is_some_and(|t| Instant::now() >= t) => break Err(()),
                Err(_) => {
                    let due = buffer.expire(Instant::now());
                    if let Err(e) = upload.write_all(&due).await {
                        let e = upload.fail(e).await;
                        return Err(after(failed(shared, &session, e)));
                    }
                }
            }
        };
        match next {
            Ok(Ok(data)) => {
                let due = buffer.push(&data, Instant::now());
                if let Err(e) = upload.write_all(&due).await {
                    let e = upload.fail(e).await;
                    return Err(after(failed(shared, &session, e)));
                }
            }
            Ok(Err(HostGone::Left)) => {
                // What the triggers still hold completes the file.
                let rest = buffer.finish();
                if let Err(e) = upload.write_all(&rest).await {
                    let e = upload.fail(e).await;
                    return Err(after(failed(shared, &session, e)));
                }
                break;
            }
            Ok(Err(HostGone::HungUp)) => {
                let _ = upload.abort().await;
                return Err(host_left());
            }
            Err(_silent) => {
                // The inactivity timeout (`+UFTP=5`): the host sent nothing for that long, so
                // the session ends as it would for a silent server.
                let _ = upload.abort().await;
                drop(s);
                if let Some(s) = forget_session(shared, &session) {
                    tokio::spawn(close_session(s));
                }
                return Err(after(FtpFailure::InactivityTimeout));
            }
        }
    }
    let result = upload.finish().await;
    drop(s);
    result
        .map(|_| ())
        .map_err(|e| after(failed(shared, &session, e)))
}
