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
//! ```
//!
//! Every path also exists as `/modems/{id}/...`; a process runs one module, `0`, so the short
//! paths mean it (a fleet of modules will address each by its id). A bad fault or link is a 400
//! whose body names the field: the validator is the one of `--link` and `--faults`
//! ([`ubx_modem::field::spec`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use ubx_modem::Modem;
use ubx_modem::field::spec::{FaultSpec, LinkSpec};

use crate::share::ModuleShare;

/// Binds the API; refuses an address that is not loopback unless `remote` allows it (the API
/// can break the module at will, so it is not offered to the network by accident).
pub async fn bind(addr: &str, remote: bool) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--control {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("--control {addr}: {e}"))?;
    if !local.ip().is_loopback() && !remote {
        return Err(format!(
            "--control {addr}: {} is not a loopback address; add --control-remote to offer the \
             control API to the network",
            local.ip()
        ));
    }
    Ok(listener)
}

/// The modules an API serves: one for `serve`, many for `fleet`, each with its fleet index;
/// and how many modules the whole fleet has, this process's shard or not.
#[derive(Clone)]
pub struct Modules(pub Arc<Vec<(usize, Modem)>>, usize);

impl Modules {
    pub fn one(modem: Modem) -> Modules {
        Modules(Arc::new(vec![(0, modem)]), 1)
    }

    /// This process's modules of a fleet of `fleet_size`.
    pub fn of_fleet(modules: Vec<(usize, Modem)>, fleet_size: usize) -> Modules {
        Modules(Arc::new(modules), fleet_size)
    }

    fn by_index(&self, id: usize) -> Result<&Modem, ApiError> {
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| m)
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("no module {id} in this process"),
                )
            })
    }

    /// The only module, for the short paths.
    fn only(&self) -> Result<&Modem, ApiError> {
        match self.0.as_slice() {
            [(_, m)] => Ok(m),
            all => Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "this process runs {} modules: address one as /modems/{{id}}/...",
                    all.len()
                ),
            )),
        }
    }
}

/// Serves the API until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, modules: Modules) {
    let app = Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/link", get(link).put(set_link))
        .route("/state", get(state))
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
        .with_state(modules);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "control API ended");
    }
}

/// The address the API listens on, for the ready line.
pub fn ready_line(listener: &tokio::net::TcpListener) -> String {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    match addr {
        Some(a) => format!("control: http://{a}"),
        None => "control: ?".into(),
    }
}

/// An error answer: its status and the message naming what is wrong.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message.into() })),
    )
        .into_response()
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

fn do_add(modem: &Modem, body: &str) -> Response {
    match parse_fault(modem, body) {
        Ok(fault) => {
            let id = modem.field().faults.add(fault);
            (StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn do_clear(modem: &Modem) -> Response {
    modem.field().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

fn do_link(modem: &Modem) -> Response {
    let spec = modem.field().link.spec();
    axum::Json(json!({ "link": spec.to_string(), "figures": spec })).into_response()
}

fn do_set_link(modem: &Modem, body: &str) -> Response {
    // A JSON string, {"link": "..."}, or the spec as plain text.
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => match o.get("link").and_then(|v| v.as_str()) {
            Some(s) => s.to_string(),
            None => return bad_request("link: expected {\"link\": \"down=...,up=...\"}"),
        },
        _ => body.trim().to_string(),
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

/// Runs `f` on the only module (short paths).
fn on_only(modules: &Modules, f: impl FnOnce(&Modem) -> Response) -> Response {
    match modules.only() {
        Ok(m) => f(m),
        Err(e) => e.into_response(),
    }
}

/// Runs `f` on module `id`.
fn on_module(modules: &Modules, id: usize, f: impl FnOnce(&Modem) -> Response) -> Response {
    match modules.by_index(id) {
        Ok(m) => f(m),
        Err(e) => e.into_response(),
    }
}

async fn list(State(m): State<Modules>) -> Response {
    on_only(&m, do_list)
}

async fn add(State(m): State<Modules>, body: String) -> Response {
    on_only(&m, |modem| do_add(modem, &body))
}

async fn clear(State(m): State<Modules>) -> Response {
    on_only(&m, do_clear)
}

async fn link(State(m): State<Modules>) -> Response {
    on_only(&m, do_link)
}

async fn set_link(State(m): State<Modules>, body: String) -> Response {
    on_only(&m, |modem| do_set_link(modem, &body))
}

async fn state(State(m): State<Modules>) -> Response {
    on_only(&m, do_state)
}

async fn list_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on_module(&m, id, do_list)
}

async fn add_at(State(m): State<Modules>, Path(id): Path<usize>, body: String) -> Response {
    on_module(&m, id, |modem| do_add(modem, &body))
}

async fn clear_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on_module(&m, id, do_clear)
}

async fn link_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on_module(&m, id, do_link)
}

async fn set_link_at(State(m): State<Modules>, Path(id): Path<usize>, body: String) -> Response {
    on_module(&m, id, |modem| do_set_link(modem, &body))
}

async fn state_at(State(m): State<Modules>, Path(id): Path<usize>) -> Response {
    on_module(&m, id, do_state)
}

/// `GET /fleet`: how many modules are in each state, and their last FTP errors by class.
async fn fleet(State(m): State<Modules>) -> Response {
    let mut states: std::collections::BTreeMap<String, usize> = Default::default();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, modem) in m.0.iter() {
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
        "modules": m.0.len(),
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
        .and_then(|share| share.pick(m.1))
    {
        Ok(chosen) => chosen,
        Err(e) => return bad_request(e),
    };
    let body = serde_json::Value::Object(object).to_string();
    // Every module's fault is checked before any is set: all or none.
    let mut checked = Vec::new();
    for (i, modem) in m.0.iter().filter(|(i, _)| chosen.binary_search(i).is_ok()) {
        match parse_fault(modem, &body) {
            Ok(fault) => checked.push((*i, modem, fault)),
            Err(e) => return e.into_response(),
        }
    }
    let mut ids = Vec::new();
    for (i, modem, fault) in checked {
        modem.field().faults.add(fault);
        ids.push(i);
    }
    (StatusCode::CREATED, axum::Json(json!({ "modems": ids }))).into_response()
}

async fn fleet_clear(State(m): State<Modules>) -> Response {
    for (_, modem) in m.0.iter() {
        modem.field().faults.clear();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `ubxftp ctl URL ...`: the same API from the command line.
pub mod ctl {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    /// Runs one request and prints the answer; an HTTP error status is an error.
    pub async fn run(url: &str, words: &[String]) -> Result<(), String> {
        let base = url.trim_end_matches('/');
        let (method, path, body) = request(words)?;
        let (status, text) = send(base, method, &path, body).await?;
        if status.is_success() {
            if !text.is_empty() {
                println!("{text}");
            }
            Ok(())
        } else {
            Err(format!("{status}: {text}"))
        }
    }

    /// The request `words` ask for.
    fn request(words: &[String]) -> Result<(hyper::Method, String, Option<String>), String> {
        let usage = "usage: ubxftp ctl URL (faults | faults clear | fault add KEY=VALUE... | link [SPEC] | state)";
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        Ok(match w.as_slice() {
            ["faults"] => (hyper::Method::GET, "/faults".into(), None),
            ["faults", "clear"] => (hyper::Method::DELETE, "/faults".into(), None),
            ["fault", "add", fields @ ..] if !fields.is_empty() => {
                let mut object = serde_json::Map::new();
                for field in fields {
                    let (key, value) = field
                        .split_once('=')
                        .ok_or_else(|| format!("{field:?}: expected KEY=VALUE"))?;
                    // Numbers stay numbers (at_ms=500), the rest is text (target=ftp-data).
                    let value = serde_json::from_str::<serde_json::Number>(value)
                        .map(serde_json::Value::Number)
                        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
                    object.insert(key.to_string(), value);
                }
                (
                    hyper::Method::POST,
                    "/faults".into(),
                    Some(serde_json::Value::Object(object).to_string()),
                )
            }
            ["link"] => (hyper::Method::GET, "/link".into(), None),
            ["link", spec] => (hyper::Method::PUT, "/link".into(), Some(spec.to_string())),
            ["state"] => (hyper::Method::GET, "/state".into(), None),
            _ => return Err(usage.into()),
        })
    }

    async fn send(
        base: &str,
        method: hyper::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(hyper::StatusCode, String), String> {
        let uri: hyper::Uri = format!("{base}{path}")
            .parse()
            .map_err(|e| format!("{base}: {e}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{base}: expected http://HOST:PORT"))?
            .clone();
        let stream = tokio::net::TcpStream::connect(authority.as_str())
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .method(method)
            .uri(uri.path())
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{authority}: {e}"))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}
