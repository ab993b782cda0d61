//! The control API (`--control HOST:PORT`): a test changes the field conditions of a running
//! module over HTTP, as toxiproxy's API does for its proxies.
//!
//! ```text
//! GET    /faults     the faults, each with how often it fired ("fired")
//! POST   /faults     add one: the fields of a [[fault]] table, as JSON      → 201 {"id": n}
//! DELETE /faults     clear them                                             → 204
//! GET    /link       the link now
//! PUT    /link       change it: "down=1mbit,rtt=100ms" or {"link": "lte-m"}
//! GET    /state      contexts, the FTP session and operation, bytes moved, terminals
//! GET    /trace      the --trace file as JSON lines: ?since=T (records past T), &follow=1
//!                    (stay open, sending records as they are written) — see [`live`]
//! ```
//!
//! Every path also exists as `/modems/{id}/...`; a process runs one module, `0`, so the short
//! paths mean it (a fleet of modules will address each by its id). A bad fault or link is a 400
//! whose body names the field: the validator is the one of `--link` and `--faults`
//! ([`ubx_modem::field::spec`]).
//!
//! Every request shows the API's token and passes the checks of [`guard`]; the server
//! ([`server`]) bounds connections and slow clients; a module holds at most
//! [`MAX_FAULTS_PER_MODULE`] faults and a process's modules [`MAX_FAULTS_PER_FLEET`] (`429`
//! past them). docs/SECURITY.md has the threat model.

pub mod ctl;
mod guard;
mod live;
mod server;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use serde::Deserialize;
use serde_json::json;
use ubx_modem::Modem;
use ubx_modem::field::spec::{FaultSpec, LinkSpec};

use crate::share::ModuleShare;
use guard::{Guard, MAX_BODY, json_error, quote_prefix};
use token::Token;

/// Most faults one module holds (those of `--faults` count); past it, `POST` answers `429`.
pub const MAX_FAULTS_PER_MODULE: usize = 256;

/// Most faults the modules of one process hold together (a fleet's `POST /fleet/faults` adds
/// one per chosen module); past it, `429`.
pub const MAX_FAULTS_PER_FLEET: usize = 100_000;

/// Longest link text `PUT /link` reads: a spec is far shorter.
const MAX_LINK_TEXT: usize = 128;

/// The control API's flags, the same for `serve`, `demo` and `fleet`.
#[derive(Args, Clone, Default)]
pub struct ControlArgs {
    /// Serve the control API (faults, link, state, the --trace file; a fleet's modules as
    /// /modems/{i}/... and the fleet as /fleet) on HOST:PORT; port 0 picks one. Requests need
    /// its token (docs/SECURITY.md).
    #[arg(long, value_name = "HOST:PORT")]
    pub control: Option<String>,
    /// Allow --control on an address that is not loopback (the token is then required).
    #[arg(long, requires = "control")]
    pub control_remote: bool,
    /// Take the token from FILE instead of making one [default: a new token, written with mode
    /// 0600 to $XDG_RUNTIME_DIR (else the temporary folder)/ubxftp-control-PORT.token].
    #[arg(long, value_name = "FILE", requires = "control")]
    pub control_token_file: Option<PathBuf>,
    /// Serve the control API with no token, as it was before tokens: loopback only, and any
    /// local user or process can then drive the module.
    #[arg(
        long,
        requires = "control",
        conflicts_with_all = ["control_token_file", "control_remote"]
    )]
    pub control_no_auth: bool,
    /// Also accept requests whose Host is NAME (repeatable): a name the API is reached by,
    /// such as a Kubernetes Service. Its address and, on loopback, localhost always are.
    #[arg(long = "control-host", value_name = "NAME", requires = "control")]
    pub control_hosts: Vec<String>,
}

/// A control API bound and armed, not serving yet.
pub struct Bound {
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    guard: Arc<Guard>,
    /// The file that holds the token (written here, or given).
    token_file: Option<PathBuf>,
    /// The file this process wrote: removed when the API ends.
    written: Option<token::Written>,
}

/// Binds the API of `args`, if asked for, and arms its token. Refuses an address that is not
/// loopback unless `--control-remote` allows it (the API can break the module at will, so it is
/// not offered to the network by accident), and `--control-no-auth` anywhere but loopback.
pub async fn bind(args: &ControlArgs) -> Result<Option<Bound>, String> {
    let Some(addr) = &args.control else {
        return Ok(None);
    };
    let flag = |e: String| format!("--control {addr}: {e}");
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| flag(e.to_string()))?;
    let local = listener.local_addr().map_err(|e| flag(e.to_string()))?;
    let loopback = local.ip().is_loopback();
    if !loopback && !args.control_remote {
        return Err(flag(format!(
            "{} is not a loopback address; add --control-remote to offer the control API to \
             the network",
            local.ip()
        )));
    }
    if !loopback && args.control_no_auth {
        return Err(flag(
            "--control-no-auth is for a loopback address only: an API on the network needs its \
             token"
                .into(),
        ));
    }
    let armed = arm(args, local).map_err(flag)?;
    if !loopback {
        eprintln!(
            "warning: --control {addr}: the control API (http://{local}) is reachable from the \
             network: whoever has its token can add faults, reboot and reshape the module"
        );
    }
    Ok(Some(Bound {
        listener,
        local,
        guard: Arc::new(Guard::new(local, &args.control_hosts, armed.token)),
        token_file: armed.file,
        written: armed.written,
    }))
}

/// What guards an API: its token, the file that holds it, and the file this process wrote.
struct Armed {
    token: Option<Token>,
    file: Option<PathBuf>,
    written: Option<token::Written>,
}

/// The token of an API on `local`: none (`--control-no-auth`), the one of
/// `--control-token-file`, or a new one written to its default file.
fn arm(args: &ControlArgs, local: SocketAddr) -> Result<Armed, String> {
    if args.control_no_auth {
        eprintln!(
            "warning: --control-no-auth: the control API (http://{local}) has no token: any \
             local user or process can add faults, reboot and reshape the module"
        );
        return Ok(Armed {
            token: None,
            file: None,
            written: None,
        });
    }
    if let Some(path) = &args.control_token_file {
        let token = Token::read(path)
            .map_err(|e| format!("--control-token-file {}: {e}", path.display()))?;
        token::warn_if_shared(path);
        return Ok(Armed {
            token: Some(token),
            file: Some(path.clone()),
            written: None,
        });
    }
    let token = Token::generate()?;
    let path = token::default_path(local.port());
    token::write(&path, &token).map_err(|e| {
        format!(
            "the token file {}: {e} (give one with --control-token-file FILE)",
            path.display()
        )
    })?;
    Ok(Armed {
        written: Some(token::Written::new(path.clone(), token.clone())),
        token: Some(token),
        file: Some(path),
    })
}

impl Bound {
    /// The lines `serve` prints when ready: the address, then where the token is (never the
    /// token itself).
    pub fn ready_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("control: http://{}", self.local)];
        if let Some(path) = &self.token_file {
            lines.push(format!("control token: {}", path.display()));
        }
        lines
    }
}

/// How many faults each module holds, beside the modules so that the caps are checked and the
/// faults added under one lock.
struct FaultBook {
    counts: Vec<usize>,
    total: usize,
}

/// The modules an API serves: one for `serve`, many for `fleet`, each with its fleet index;
/// how many modules the whole fleet has, this process's shard or not; and their fault counts.
#[derive(Clone)]
pub struct Modules {
    pub all: Arc<Vec<(usize, Modem)>>,
    fleet_size: usize,
    book: Arc<Mutex<FaultBook>>,
    /// The trace of a process that runs one module with `--trace` (a fleet has none).
    trace: Option<Arc<live::TraceFeed>>,
}

impl Modules {
    pub fn one(modem: Modem) -> Modules {
        Modules::of_fleet(vec![(0, modem)], 1)
    }

    /// This process's modules of a fleet of `fleet_size`.
    pub fn of_fleet(modules: Vec<(usize, Modem)>, fleet_size: usize) -> Modules {
        let counts: Vec<usize> = modules
            .iter()
            .map(|(_, m)| m.field().faults.list().len())
            .collect();
        let total = counts.iter().sum();
        Modules {
            all: Arc::new(modules),
            fleet_size,
            book: Arc::new(Mutex::new(FaultBook { counts, total })),
            trace: None,
        }
    }

    /// These modules, their trace served at `GET /trace` (one module's).
    pub fn traced(mut self, tracer: Option<&ubx_terminal::trace::Tracer>) -> Modules {
        self.trace = tracer.map(|t| Arc::new(live::TraceFeed::new(t)));
        self
    }

    fn modem(&self, at: usize) -> &Modem {
        &self.all[at].1
    }

    fn book(&self) -> std::sync::MutexGuard<'_, FaultBook> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where module `id` is in this process's list.
    fn position(&self, id: usize) -> Result<usize, ApiError> {
        self.all.iter().position(|(i, _)| *i == id).ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no module {id} in this process"),
            )
        })
    }

    /// The only module, for the short paths.
    fn only(&self) -> Result<usize, ApiError> {
        match self.all.len() {
            1 => Ok(0),
            n => Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("this process runs {n} modules: address one as /modems/{{id}}/..."),
            )),
        }
    }

    /// Whether the modules at `places` may each take one more fault.
    fn room_for(&self, book: &FaultBook, places: &[usize]) -> Result<(), ApiError> {
        let full = |m: String| Err(ApiError(StatusCode::TOO_MANY_REQUESTS, m));
        if let Some(&at) = places
            .iter()
            .find(|&&at| book.counts[at] >= MAX_FAULTS_PER_MODULE)
        {
            return full(format!(
                "faults: module {} holds {MAX_FAULTS_PER_MODULE} faults, the most a module may \
                 hold; clear them (DELETE /faults, /modems/{{id}}/faults) first",
                self.all[at].0
            ));
        }
        if book.total + places.len() > MAX_FAULTS_PER_FLEET {
            return full(format!(
                "faults: the modules of this process hold {} faults; {} more would pass the most \
                 they may hold together, {MAX_FAULTS_PER_FLEET}; clear some (DELETE \
                 /fleet/faults) first",
                book.total,
                places.len()
            ));
        }
        Ok(())
    }

    /// Adds the fault of `body` to the module at `at`, within the caps.
    fn add_fault(&self, at: usize, body: &str) -> Response {
        let modem = self.modem(at);
        let fault = match parse_fault(modem, body) {
            Ok(f) => f,
            Err(e) => return e.into_response(),
        };
        let mut book = self.book();
        if let Err(e) = self.room_for(&book, &[at]) {
            return e.into_response();
        }
        let id = modem.field().faults.add(fault);
        book.counts[at] += 1;
        book.total += 1;
        (StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response()
    }

    /// Clears the faults of the modules at `places`.
    fn clear_faults(&self, places: impl Iterator<Item = usize>) -> Response {
        let mut book = self.book();
        for at in places {
            self.modem(at).field().faults.clear();
            book.total -= book.counts[at];
            book.counts[at] = 0;
        }
        StatusCode::NO_CONTENT.into_response()
    }
}

/// Serves the API until the process ends; its token file goes with it.
pub async fn serve(bound: Bound, modules: Modules) {
    let Bound {
        listener,
        guard,
        written,
        ..
    } = bound;
    let _written = written;
    let app = Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/link", get(link).put(set_link))
        .route("/state", get(state))
        .route("/trace", get(trace))
        .route("/trace/rows", get(rows))
        .route("/view", get(view))
        .route("/modems/{id}/trace", get(trace_at))
        .route("/modems/{id}/trace/rows", get(rows_at))
        .route("/modems/{id}/view", get(view_at))
        .route(
            "/modems/{id}/faults",
            get(list_at).post(add_at).delete(clear_at),
        )
        .route("/modems/{id}/link", get(link_at).put(set_link_at))
        .route("/modems/{id}/state", get(state_at))
        .route("/fleet", get(fleet))
        .route(
            "/fleet/faults",
            axum::routing::post(fleet_faults).delete(fleet_clear),
        )
        .with_state(modules)
        .layer(axum::middleware::from_fn_with_state(guard, guard::guarded))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    server::serve(listener, app).await;
}

/// An error answer: its status and the message naming what is wrong.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_error(self.0, self.1)
    }
}

fn bad_request(message: impl Into<String>) -> Response {
    json_error(StatusCode::BAD_REQUEST, message)
}

fn do_list(modem: &Modem) -> Response {
    axum::Json(modem.field().faults.list()).into_response()
}

/// Parses and validates a fault for `modem` (the one validator of file, flag and API).
fn parse_fault(modem: &Modem, body: &str) -> Result<ubx_modem::field::spec::Fault, ApiError> {
    let invalid = |e: String| ApiError(StatusCode::BAD_REQUEST, format!("fault: {e}"));
    let spec: FaultSpec = serde_json::from_str(body).map_err(|e| invalid(e.to_string()))?;
    spec.validate(modem.max_cid())
        .map_err(|e| invalid(e.to_string()))
}

fn do_link(modem: &Modem) -> Response {
    let spec = modem.field().link.spec();
    axum::Json(json!({ "link": spec.to_string(), "figures": spec })).into_response()
}

/// The spec a `PUT /link` body carries: a JSON string, or `{"link": "..."}` and nothing else.
/// An error quotes at most a short prefix of what was sent.
fn link_text(body: &str) -> Result<String, ApiError> {
    const EXPECTED: &str = "expected \"SPEC\" or {\"link\": \"SPEC\"}";
    let bad = |m: String| Err(ApiError(StatusCode::BAD_REQUEST, m));
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(mut o)) => {
            if let Some(key) = o.keys().find(|k| *k != "link") {
                return bad(format!(
                    "link: unknown field {}; {EXPECTED}",
                    quote_prefix(key, 32)
                ));
            }
            match o.remove("link") {
                Some(serde_json::Value::String(s)) => s,
                _ => return bad(format!("link: {EXPECTED}")),
            }
        }
        Ok(_) => return bad(format!("link: {EXPECTED}")),
        Err(e) => return bad(format!("link: the body is not JSON ({e}); {EXPECTED}")),
    };
    if text.len() > MAX_LINK_TEXT {
        return bad(format!(
            "link: {} is longer than any spec (at most {MAX_LINK_TEXT} bytes)",
            quote_prefix(&text, 32)
        ));
    }
    Ok(text)
}

fn do_set_link(modem: &Modem, body: &str) -> Response {
    let text = match link_text(body) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match LinkSpec::parse(&text) {
        Ok(spec) => {
            modem.field().set_link(spec);
            axum::Json(json!({ "link": spec.to_string() })).into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

fn do_state(modem: &Modem) -> Response {
    axum::Json(modem.snapshot()).into_response()
}

/// Runs `f` on the module `at` names (its place in the list), or answers why not.
fn on(
    modules: &Modules,
    at: Result<usize, ApiError>,
    f: impl FnOnce(&Modules, usize) -> Response,
) -> Response {
    match at {
        Ok(at) => f(modules, at),
        Err(e) => e.into_response(),
    }
}

async fn list(State(m): State<Modules>) -> Response {
    on(&m, m.only(), |m, at| do_list(m.modem(at)))
}

async fn add(State(m): State<Modules>, body: String) -> Response {
    on(&m, m.only(), |m, at| m.add_fault(at, &body))
}

async fn clear(State(m): State<Modules>) -> Response {
    on(&m, m.only(), |m, at| m.clear_faults(std::iter::once(at)))
}

async fn link(State(m): State<Modules>) -> Response {
    on(&m, m.only(), |m, at| do_link(m.modem(at)))
}

async fn set_link(State(m): State<Modules>, body: String) -> Response {
    on(&m, m.only(), |m, at| do_set_link(m.modem(at), &body))
}

async fn state(State(m): State<Modules>) -> Response {
    on(&m, m.only(), |m, at| do_state(m.modem(at)))
}

async fn list_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on(&m, m.position(id), |m, at| do_list(m.modem(at)))
}

async fn add_at(State(m): State<Modules>, Path(id): Path<usize>, body: String) -> Response {
    on(&m, m.position(id), |m, at| m.add_fault(at, &body))
}

async fn clear_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on(&m, m.position(id), |m, at| {
        m.clear_faults(std::iter::once(at))
    })
}

async fn link_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on(&m, m.position(id), |m, at| do_link(m.modem(at)))
}

async fn set_link_at(State(m): State<Modules>, Path(id): Path<usize>, body: String) -> Response {
    on(&m, m.position(id), |m, at| do_set_link(m.modem(at), &body))
}

async fn state_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on(&m, m.position(id), |m, at| do_state(m.modem(at)))
}

/// `GET /trace` and `/trace/rows` (`form`), for the module `at` names.
async fn feed(m: &Modules, at: Result<usize, ApiError>, uri: &Uri, form: live::As) -> Response {
    match at {
        Ok(_) => live::answer(m.trace.as_deref(), uri, form).await,
        Err(e) => e.into_response(),
    }
}

async fn trace(State(m): State<Modules>, uri: Uri) -> Response {
    feed(&m, m.only(), &uri, live::As::Records).await
}

async fn trace_at(State(m): State<Modules>, Path(id): Path<usize>, uri: Uri) -> Response {
    feed(&m, m.position(id), &uri, live::As::Records).await
}

async fn rows(State(m): State<Modules>, uri: Uri) -> Response {
    feed(&m, m.only(), &uri, live::As::Rows).await
}

async fn rows_at(State(m): State<Modules>, Path(id): Path<usize>, uri: Uri) -> Response {
    feed(&m, m.position(id), &uri, live::As::Rows).await
}

/// `GET /view`: the trace's page, following `/trace/rows` (docs/TRACE.md).
async fn view(State(m): State<Modules>) -> Response {
    match m.only() {
        Ok(_) => live::view(m.trace.as_deref(), "live", "/trace/rows"),
        Err(e) => e.into_response(),
    }
}

async fn view_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    match m.position(id) {
        Ok(_) => live::view(
            m.trace.as_deref(),
            &format!("module {id}, live"),
            &format!("/modems/{id}/trace/rows"),
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /fleet`: how many modules are in each state, and their last FTP errors by class.
async fn fleet(State(m): State<Modules>) -> Response {
    let mut states: std::collections::BTreeMap<String, usize> = Default::default();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, modem) in m.all.iter() {
        let s = modem.snapshot();
        let state = if s["power"] == "off" {
            "rebooting"
        } else if s["ftp"]["operation"].is_number() {
            "transferring"
        } else if s["ftp"]["logged_in"] == true {
            "logged-in"
        } else if s["registered"] == true {
            "registered"
        } else {
            "unregistered"
        };
        *states.entry(state.into()).or_default() += 1;
        *errors
            .entry(modem.last_ftp_error().0.to_string())
            .or_default() += 1;
    }
    axum::Json(json!({
        "modules": m.all.len(),
        "states": states,
        "uftper_classes": errors,
    }))
    .into_response()
}

/// `POST /fleet/faults`: one fault on a share of the modules. `"modems"` is `"all"`, a
/// percentage (`"10%"`, the same modules for the same fault on every run: chosen by a hash of
/// the index) or a list of indices; the other fields are a fault's.
async fn fleet_faults(State(m): State<Modules>, body: String) -> Response {
    let mut object = match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(o)) => o,
        _ => return bad_request("expected a JSON object"),
    };
    let Some(modems) = object.remove("modems") else {
        return bad_request("modems: missing (\"all\", \"10%\" or [0, 1, ...])");
    };
    // The one reading of `modems`, shared with a fleet's fault file; a share is of the whole
    // fleet, so every shard sets the fault on the modules a single process would.
    let chosen = match ModuleShare::deserialize(modems)
        .map_err(|e| e.to_string())
        .and_then(|share| share.pick(m.fleet_size))
    {
        Ok(chosen) => chosen,
        Err(e) => return bad_request(e),
    };
    let body = serde_json::Value::Object(object).to_string();
    let places: Vec<usize> = (0..m.all.len())
        .filter(|at| chosen.binary_search(&m.all[*at].0).is_ok())
        .collect();
    // The fault is checked for every module before any is set (all or none), and before the
    // caps (a bad fault is a 400 even on a full fleet); it is parsed once per `max_cid`, not
    // once per module, so that a flood of refused requests stays cheap.
    let mut parsed: Vec<(u8, ubx_modem::field::spec::Fault)> = Vec::new();
    for &at in &places {
        let modem = m.modem(at);
        if parsed.iter().all(|(cid, _)| *cid != modem.max_cid()) {
            match parse_fault(modem, &body) {
                Ok(fault) => parsed.push((modem.max_cid(), fault)),
                Err(e) => return e.into_response(),
            }
        }
    }
    let mut book = m.book();
    if let Err(e) = m.room_for(&book, &places) {
        return e.into_response();
    }
    let mut ids = Vec::new();
    for at in places {
        let modem = m.modem(at);
        let Some((_, fault)) = parsed.iter().find(|(cid, _)| *cid == modem.max_cid()) else {
            continue;
        };
        modem.field().faults.add(fault.clone());
        book.counts[at] += 1;
        book.total += 1;
        ids.push(m.all[at].0);
    }
    (StatusCode::CREATED, axum::Json(json!({ "modems": ids }))).into_response()
}

async fn fleet_clear(State(m): State<Modules>) -> Response {
    m.clear_faults(0..m.all.len())
}
