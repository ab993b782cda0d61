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

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use ubx_modem::Modem;
use ubx_modem::field::spec::{FaultSpec, LinkSpec};

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

/// Serves the API until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, modem: Modem) {
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
        .with_state(modem);
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

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// The 404 of a `/modems/{id}` path that names no module of this process.
fn unknown_module(id: u32) -> Option<Response> {
    (id != 0).then(|| {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": format!("no module {id} (this process runs module 0)") })),
        )
            .into_response()
    })
}

async fn list(State(modem): State<Modem>) -> Response {
    axum::Json(modem.field().faults.list()).into_response()
}

async fn add(State(modem): State<Modem>, body: String) -> Response {
    let spec: FaultSpec = match serde_json::from_str(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(format!("fault: {e}")),
    };
    let max_cid = modem.max_cid();
    match spec.validate(max_cid) {
        Ok(fault) => {
            let id = modem.field().faults.add(fault);
            (StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response()
        }
        Err(e) => bad_request(format!("fault: {e}")),
    }
}

async fn clear(State(modem): State<Modem>) -> Response {
    modem.field().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn link(State(modem): State<Modem>) -> Response {
    let spec = modem.field().link.spec();
    axum::Json(json!({ "link": spec.to_string(), "figures": spec })).into_response()
}

async fn set_link(State(modem): State<Modem>, body: String) -> Response {
    // A JSON string, {"link": "..."}, or the spec as plain text.
    let text = match serde_json::from_str::<serde_json::Value>(&body) {
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

async fn state(State(modem): State<Modem>) -> Response {
    axum::Json(modem.snapshot()).into_response()
}

async fn list_at(s: State<Modem>, Path(id): Path<u32>) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => list(s).await,
    }
}

async fn add_at(s: State<Modem>, Path(id): Path<u32>, body: String) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => add(s, body).await,
    }
}

async fn clear_at(s: State<Modem>, Path(id): Path<u32>) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => clear(s).await,
    }
}

async fn link_at(s: State<Modem>, Path(id): Path<u32>) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => link(s).await,
    }
}

async fn set_link_at(s: State<Modem>, Path(id): Path<u32>, body: String) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => set_link(s, body).await,
    }
}

async fn state_at(s: State<Modem>, Path(id): Path<u32>) -> Response {
    match unknown_module(id) {
        Some(r) => r,
        None => state(s).await,
    }
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
