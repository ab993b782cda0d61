//! The HTTP client service: `+UHTTP` (the profiles), `+UHTTPC` (requests: HEAD, GET, DELETE,
//! PUT and POST of a module file, POST of data, and the direct-link GET and POST), `+UHTTPER`
//! (the last error of a profile), and the URC `+UUHTTPCR`.
//!
//! | file | what |
//! |---|---|
//! | [`profile`] | `+UHTTP` |
//! | [`request`] | parsing `+UHTTPC`, and the engine: hyper over the toolkit's connection, the response into a module file |
//! | [`direct_link`] | ops 6 and 7, through the terminal |
//! | [`errors`] | the `+UHTTPER` table; [`state`] the profiles |

pub mod direct_link;
pub mod errors;
pub mod profile;
pub mod request;
pub mod service;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use ubx_at::{CmeError, Command, CommandError, CommandKind, Outcome, Params, Response};

use crate::module::ids::TerminalId;
use crate::module::state::{Ctx, Shared};
use crate::services::http::errors::HttpFailure;
use crate::services::http::profile::profile_id;
use crate::services::http::request::{Body, Request};
use crate::services::http::service::Http;
use crate::services::toolkit::ending::Running;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let model = &ctx.shared.model.http;
    let outcome = match (cmd.name.as_str(), &cmd.kind) {
        ("+UHTTP", CommandKind::Test) => Outcome::Done(Response::line(model.uhttp_test.as_str())),
        ("+UHTTPC", CommandKind::Test) => Outcome::Done(Response::line(model.uhttpc_test.as_str())),
        ("+UHTTPER", CommandKind::Test) => Outcome::Done(Response::ok()),
        ("+UHTTP", CommandKind::Set(p)) => profile::uhttp(ctx, p).into(),
        ("+UHTTPC", CommandKind::Set(p)) => uhttpc(ctx, p),
        ("+UHTTPER", CommandKind::Set(p)) => uhttper(ctx, p).into(),
        ("+UHTTP" | "+UHTTPC" | "+UHTTPER", _) => Outcome::Failed(CommandError::Syntax),
        _ => return None,
    };
    Some(outcome)
}

/// `AT+UHTTPER=<profile_id>`.
fn uhttper(ctx: &Ctx, p: &Params) -> Result<Response, CommandError> {
    p.at_most(1)?;
    let id = profile_id(ctx, p)?;
    let (class, code) = ctx.shared.state().http.profiles[id].1.last_error();
    Ok(Response::line(format!("+UHTTPER: {id},{class},{code}")))
}

/// `AT+UHTTPC=...`: checked, answered, and carried out in the background.
fn uhttpc(ctx: &Ctx, p: &Params) -> Outcome {
    let accepted = || -> Result<(usize, Request), CommandError> {
        let id = profile_id(ctx, p)?;
        let command = p.req_num(1)?;
        if !ctx.shared.model.http.uhttpc_ops.contains(&command) {
            return Err(CmeError::OperationNotSupported.into());
        }
        let request = request::parse(&ctx.shared.fs, command, p)?;
        let mut state = ctx.shared.state();
        if state.http.profiles[id].0.server().is_none() {
            state.http.profiles[id].1.record(Err(HttpFailure::NoServer));
            return Err(CmeError::OperationNotAllowed.into());
        }
        state.http.profiles[id]
            .1
            .claim(command, HttpFailure::Busy)?;
        Ok((id, request))
    };
    let (id, request) = match accepted() {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(e),
    };
    if matches!(request.command, 6 | 7) {
        return direct_link::start(ctx, id, request);
    }
    tracing::info!(
        terminal = ctx.terminal,
        profile = id,
        command = request.command,
        "HTTP request accepted"
    );
    let mut state = ctx.shared.state();
    let task = tokio::spawn(run(ctx.shared.clone(), ctx.terminal, id, request));
    state.http.profiles[id].1.set_task(task.abort_handle());
    Outcome::Done(Response::ok())
}

async fn run(shared: Arc<Shared>, terminal: TerminalId, id: usize, request: Request) {
    let running = Running::<Http>::start(&shared, request.command, id);
    let outcome = perform(&shared, id, &request).await;
    let result = u8::from(outcome.is_ok());
    let urc = format!("+UUHTTPCR: {id},{},{result}", request.command).into_bytes();
    running.end(terminal, outcome, |_| {}, vec![urc]);
}

/// One background request: send, then the response into its file.
async fn perform(shared: &Arc<Shared>, id: usize, request: &Request) -> Result<(), HttpFailure> {
    let profile = shared.state().http.profiles[id].0.clone();
    let (body, length) = match &request.body {
        Body::Empty | Body::Host => (request::full_body(Vec::new()), None),
        Body::Data(data) => (request::full_body(data.clone()), None),
        Body::File(name) => {
            let multipart = request.content_type.as_deref() == Some("multipart/form-data");
            request::file_body(&shared.fs, name, multipart)?
        }
    };
    let response = request::send(shared, &profile, request, body, length).await?;
    let Some(file) = &request.file else {
        return Err(HttpFailure::LocalFile);
    };
    let idle = Duration::from_secs(u64::from(profile.timeout));
    request::into_file(shared, file, response, idle).await
}
