//! `AT+UHTTPC=<id>,6,"<path>"` and `AT+UHTTPC=<id>,7,"<path>","<filename>",<content_type>`:
//! HTTP through the terminal in transparent data mode, as FTP's ops 6 and 7 (their syntax is not
//! published: docs/FIDELITY.md). Op 6 sends the response body to the host after `CONNECT` and
//! leaves by itself at its end; op 7 sends what the host types until `+++` as the body of a POST,
//! the response into `<filename>`. Either holds the module's one direct link.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Channel};
use hyper::body::Bytes;
use ubx_at::{CmeError, Outcome};

use crate::module::data_link::{self, HostGone, LinkEnd};
use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::http::errors::HttpFailure;
use crate::services::http::request::{self, Request};
use crate::services::http::service::Http;
use crate::services::toolkit::arbiter::{DirectLink, Holder};
use crate::services::toolkit::ending::Running;

/// The error of a direct link that could not start; `+UHTTPER` tells why.
const REFUSED: CmeError = CmeError::OperationNotAllowed;

pub(crate) fn start(ctx: &Ctx, id: usize, request: Request) -> Outcome {
    let holder = Holder {
        service: "http",
        op: request.command,
    };
    let held = match ctx.shared.direct_links.claim(holder) {
        Ok(held) => held,
        Err(taken) => {
            tracing::info!(holder = ?taken.0, "HTTP direct link refused: another is open");
            let mut state = ctx.shared.state();
            let slot = &mut state.http.profiles[id].1;
            slot.release();
            slot.record(Err(HttpFailure::Busy));
            return Outcome::Failed(REFUSED.into());
        }
    };
    let (port, end) = data_link::channel(ctx.shared.model.ftp.direct_link.framing());
    ctx.link.set(Some(port));
    let mut state = ctx.shared.state();
    let task = tokio::spawn(run(
        ctx.shared.clone(),
        ctx.terminal,
        id,
        request,
        end,
        held,
    ));
    state.http.profiles[id].1.set_task(task.abort_handle());
    Outcome::Pending
}

/// How a direct link failed, and whether the host had heard `CONNECT`.
struct Failed {
    failure: HttpFailure,
    connected: bool,
}

async fn run(
    shared: Arc<Shared>,
    terminal: TerminalId,
    id: usize,
    request: Request,
    mut link: LinkEnd,
    held: DirectLink,
) {
    let running = Running::<Http>::start(&shared, request.command, id);
    let outcome = if request.command == 6 {
        get(&shared, id, &request, &mut link).await
    } else {
        post(&shared, id, &request, &mut link).await
    };
    drop(held);
    let result = u8::from(outcome.is_ok());
    let urc = format!("+UUHTTPCR: {id},{},{result}", request.command).into_bytes();
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

fn before(failure: HttpFailure) -> Failed {
    Failed {
        failure,
        connected: false,
    }
}

fn after(failure: HttpFailure) -> Failed {
    Failed {
        failure,
        connected: true,
    }
}

/// Op 6: the response body to the host.
async fn get(
    shared: &Arc<Shared>,
    id: usize,
    request: &Request,
    link: &mut LinkEnd,
) -> Result<(), Failed> {
    let profile = shared.state().http.profiles[id].0.clone();
    let body = request::full_body(Vec::new());
    let mut response = request::send(shared, &profile, request, body, None)
        .await
        .map_err(before)?;
    if !link.connected().await {
        return Err(after(HttpFailure::HostLeft));
    }
    let idle = Duration::from_secs(u64::from(profile.timeout));
    loop {
        match tokio::time::timeout(idle, response.body_mut().frame()).await {
            Err(_) => return Err(after(HttpFailure::Timeout)),
            Ok(None) => return Ok(()),
            Ok(Some(Err(_))) => return Err(after(HttpFailure::ConnectionLost)),
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                // In the data link's own chunks: a hyper frame can be several hundred KiB, and
                // the link holds a few chunks, so this keeps what waits for the host as FTP's.
                for piece in data.chunks(data_link::CHUNK) {
                    if link.send(piece.to_vec()).await.is_err() {
                        return Err(after(HttpFailure::HostLeft));
                    }
                }
            }
        }
    }
}

/// Op 7: what the host sends until it escapes is the body; the response goes into the file.
async fn post(
    shared: &Arc<Shared>,
    id: usize,
    request: &Request,
    link: &mut LinkEnd,
) -> Result<(), Failed> {
    let profile = shared.state().http.profiles[id].0.clone();
    if !link.connected().await {
        return Err(after(HttpFailure::HostLeft));
    }
    let (tx, body) = Channel::<Bytes, Infallible>::new(2);
    let sending = request::send(shared, &profile, request, body.boxed(), None);
    let feeding = async move {
        let mut tx = tx;
        loop {
            match link.receive().await {
                Ok(data) => {
                    if tx.send_data(Bytes::from(data)).await.is_err() {
                        return Ok(());
                    }
                }
                // The host escaped: the body is complete.
                Err(HostGone::Left) => return Ok(()),
                Err(HostGone::HungUp) => return Err(HttpFailure::HostLeft),
            }
        }
    };
    // The sender is dropped when the host escapes: the body ends there.
    let (response, fed) = tokio::join!(sending, feeding);
    fed.map_err(after)?;
    let response = response.map_err(after)?;
    let Some(file) = &request.file else {
        return Err(after(HttpFailure::LocalFile));
    };
    let idle = Duration::from_secs(u64::from(profile.timeout));
    request::into_file(shared, file, response, idle)
        .await
        .map_err(after)
}
