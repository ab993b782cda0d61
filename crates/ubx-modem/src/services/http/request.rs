//! `+UHTTPC`: a request, checked at once and carried out in the background on hyper over the
//! toolkit's connection (`--dns`, `--route`, the bearer, the field layer, TLS from
//! `+USECPRF`). The whole response — status line, headers, body — goes into the named module
//! file, as the module writes it; `+UUHTTPCR: <profile>,<command>,<1|0>` ends it.

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Channel, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use ubx_at::{CmeError, CommandError, Params};
use ubx_storage::fs::{FsError, Leftover, ModuleFs};

use crate::families::fs::fs_error;
use crate::module::state::Shared;
use crate::services::http::errors::HttpFailure;
use crate::services::http::profile::text;
use crate::services::http::state::Profile;
use crate::services::toolkit::connect::{Carries, ConnectError, Connection, TlsRequest};
use crate::services::toolkit::spool::Spool;

/// The context HTTP uses: cid 1 (LEXI-R10's default), PSD profile 0's bearer where the model
/// has PSD profiles.
const SERVICE_CID: u8 = 1;

/// The multipart boundary of a POST of a file as `multipart/form-data` (the R4 manual).
const BOUNDARY: &str = "U1Blox2Http3Unique4Boundary5";

/// A request's body: none, a module file, a string, or what the host sends (direct link).
pub(crate) enum Body {
    Empty,
    File(String),
    Data(Vec<u8>),
    Host,
}

/// A `+UHTTPC` command, its parameters checked.
pub(crate) struct Request {
    pub command: i64,
    pub method: hyper::Method,
    pub path: String,
    /// The module file the response goes into (`None`: through the terminal).
    pub file: Option<String>,
    pub body: Body,
    pub content_type: Option<String>,
}

/// `<param2>` content types (the R4 manual's list; 6: `<param3>` names it).
fn content_type(p: &Params, i: usize) -> Result<Option<String>, CommandError> {
    let bad = || CommandError::from(CmeError::OperationNotSupported);
    Ok(Some(
        match p.req_num(i)? {
            0 => "application/x-www-form-urlencoded",
            1 => "text/plain",
            2 => "application/octet-stream",
            3 => "multipart/form-data",
            4 => "application/json",
            5 => "application/xml",
            6 => {
                let custom = text(p, i + 1)?;
                if custom.is_empty() || custom.len() > 64 {
                    return Err(bad());
                }
                return Ok(Some(custom));
            }
            _ => return Err(bad()),
        }
        .to_string(),
    ))
}

/// A module file name at `i`.
fn local(fs: &ModuleFs, p: &Params, i: usize) -> Result<String, CommandError> {
    fs.check_name(p.req_str(i)?)
        .map(str::to_string)
        .map_err(|e| fs_error(FsError::InvalidName(e)))
}

/// A path: starts with `/`, printable, at most 256 bytes.
fn path(p: &Params) -> Result<String, CommandError> {
    let path = text(p, 2)?;
    if !path.starts_with('/') || path.contains(' ') {
        return Err(CmeError::OperationNotSupported.into());
    }
    Ok(path)
}

/// Checks `AT+UHTTPC=<id>,<command>,<path>,<filename>[,<param1>[,<param2>[,<param3>]]]`.
pub(crate) fn parse(fs: &ModuleFs, command: i64, p: &Params) -> Result<Request, CommandError> {
    use hyper::Method;
    let (method, body, content, file, most) = match command {
        0 => (Method::HEAD, Body::Empty, None, Some(local(fs, p, 3)?), 4),
        1 => (Method::GET, Body::Empty, None, Some(local(fs, p, 3)?), 4),
        2 => (Method::DELETE, Body::Empty, None, Some(local(fs, p, 3)?), 4),
        3 | 4 => {
            let source = local(fs, p, 4)?;
            let content = if p.present(5) {
                content_type(p, 5)?
            } else {
                None
            };
            let method = if command == 3 {
                Method::PUT
            } else {
                Method::POST
            };
            (
                method,
                Body::File(source),
                content,
                Some(local(fs, p, 3)?),
                7,
            )
        }
        5 => {
            let data = text(p, 4)?;
            let content = content_type(p, 5)?;
            (
                Method::POST,
                Body::Data(data.into_bytes()),
                content,
                Some(local(fs, p, 3)?),
                7,
            )
        }
        // Direct link (ours: docs/FIDELITY.md): 6 GETs the body through the terminal; 7 POSTs
        // what the host sends, the response into <filename>.
        6 => (Method::GET, Body::Empty, None, None, 3),
        7 => {
            let content = content_type(p, 4)?;
            (Method::POST, Body::Host, content, Some(local(fs, p, 3)?), 6)
        }
        _ => return Err(CmeError::OperationNotSupported.into()),
    };
    p.at_most(most)?;
    Ok(Request {
        command,
        method,
        path: path(p)?,
        file,
        body,
        content_type: content,
    })
}

/// The connection failure as `+UHTTPER` tells it.
fn connect_failure(e: ConnectError) -> HttpFailure {
    match e {
        ConnectError::NoBearer => HttpFailure::NoBearer,
        ConnectError::Unresolved => HttpFailure::Dns,
        ConnectError::SecurityProfile | ConnectError::Handshake => HttpFailure::Tls,
        ConnectError::Io(_) => HttpFailure::Connect,
    }
}

/// The body hyper sends.
pub(crate) type OutBody = BoxBody<Bytes, Infallible>;

/// Sends the request; returns the response head and its streaming body. `host_body` is the
/// sender side of a direct link's body.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    profile: &Profile,
    request: &Request,
    body: OutBody,
    length: Option<u64>,
) -> Result<hyper::Response<Incoming>, HttpFailure> {
    let server = profile.server().ok_or(HttpFailure::NoServer)?.to_string();
    let connection = Connection::for_service(shared, SERVICE_CID).map_err(connect_failure)?;
    let tls = profile.secure.map(|sec| TlsRequest {
        profile: sec,
        server: server.clone(),
        private_data: false,
    });
    let idle = Duration::from_secs(u64::from(profile.timeout));
    let connect = connection.tcp(&server, profile.port(), None, tls, Carries::Protocol);
    let (stream, _) = tokio::time::timeout(idle, connect)
        .await
        .map_err(|_| HttpFailure::Timeout)?
        .map_err(connect_failure)?;
    let (mut sender, conn) = http1::handshake::<_, OutBody>(TokioIo::new(stream))
        .await
        .map_err(|_| HttpFailure::ConnectionLost)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let message = build(profile, &server, request, body, length).ok_or(HttpFailure::LocalFile)?;
    tracing::info!(method = %request.method, path = %request.path, %server, "HTTP request");
    let events = &shared.field.events;
    events.dialogue("http", true, || {
        format!("{} {} HTTP/1.1", request.method, request.path)
    });
    let response = tokio::time::timeout(idle, sender.send_request(message))
        .await
        .map_err(|_| HttpFailure::Timeout)?
        .map_err(|e| {
            tracing::info!(error = %e, "HTTP request failed");
            HttpFailure::ConnectionLost
        })?;
    events.dialogue("http", false, || {
        let status = response.status();
        let reason = status.canonical_reason().unwrap_or("");
        format!("HTTP/1.1 {} {reason}", status.as_u16())
    });
    Ok(response)
}

/// The request as the module sends it: `Host`, authentication, the profile's headers, the
/// content type.
fn build(
    profile: &Profile,
    server: &str,
    request: &Request,
    body: OutBody,
    length: Option<u64>,
) -> Option<hyper::Request<OutBody>> {
    let port = profile.port();
    let default_port = if profile.secure.is_some() { 443 } else { 80 };
    let host = if port == default_port {
        server.to_string()
    } else if server.contains(':') {
        format!("[{server}]:{port}")
    } else {
        format!("{server}:{port}")
    };
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(request.path.as_str())
        .header("Host", host);
    if profile.auth == 1 {
        use base64::Engine as _;
        let credentials = format!("{}:{}", profile.user, profile.password);
        let token = base64::engine::general_purpose::STANDARD.encode(credentials);
        builder = builder.header("Authorization", format!("Basic {token}"));
    }
    for header in &profile.headers {
        let (name, value) = header.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(content) = &request.content_type {
        let content = if content == "multipart/form-data" {
            format!("multipart/form-data; boundary={BOUNDARY}")
        } else {
            content.clone()
        };
        builder = builder.header("Content-Type", content);
    }
    if let Some(length) = length {
        builder = builder.header("Content-Length", length);
    }
    builder.body(body).ok()
}

/// The body of a request from a module file, read on a blocking thread and streamed: a large
/// file never sits in memory whole. A `multipart/form-data` POST wraps it as the module does.
pub(crate) fn file_body(
    fs: &ModuleFs,
    name: &str,
    multipart: bool,
) -> Result<(OutBody, Option<u64>), HttpFailure> {
    let mut reader = fs.open_reader(name).map_err(|_| HttpFailure::LocalFile)?;
    let (head, tail) = if multipart {
        (
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file_post\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ),
            format!("\r\n--{BOUNDARY}--\r\n"),
        )
    } else {
        (String::new(), String::new())
    };
    let len = reader.len() + (head.len() + tail.len()) as u64;
    let (mut tx, body) = Channel::<Bytes, Infallible>::new(2);
    tokio::spawn(async move {
        if !head.is_empty() && tx.send_data(Bytes::from(head)).await.is_err() {
            return;
        }
        loop {
            let read = tokio::task::spawn_blocking(move || {
                let mut chunk = vec![0u8; 64 * 1024];
                let n = reader.read(&mut chunk);
                (reader, chunk, n)
            })
            .await;
            let Ok((back, mut chunk, Ok(n))) = read else {
                return;
            };
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            if tx.send_data(Bytes::from(chunk)).await.is_err() {
                return;
            }
            reader = back;
        }
        if !tail.is_empty() {
            let _ = tx.send_data(Bytes::from(tail)).await;
        }
    });
    Ok((body.boxed(), Some(len)))
}

/// A body held in memory (POST data), or none.
pub(crate) fn full_body(data: Vec<u8>) -> OutBody {
    Full::new(Bytes::from(data)).boxed()
}

/// The response's status line and headers as the module file holds them.
pub(crate) fn head_bytes(response: &hyper::Response<Incoming>) -> Vec<u8> {
    let status = response.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in response.headers() {
        head.extend(title_case(name.as_str()).into_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// `content-type` → `Content-Type`, as servers write header names and drivers look them up.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The response, head and body, into module file `name`, written beside it and put in place
/// whole: a failure (or a cut) leaves the name as it was, so nothing half-written looks like a
/// complete response.
pub(crate) async fn into_file(
    shared: &Shared,
    name: &str,
    mut response: hyper::Response<Incoming>,
    idle: Duration,
) -> Result<(), HttpFailure> {
    let fs = &shared.fs;
    let writer = fs
        .staged_writer(name, Leftover::Discarded, false)
        .map_err(|e| fs_failure(&e))?;
    let mut spool = Spool::start(writer);
    let mut pending = head_bytes(&response);
    let outcome = loop {
        if !pending.is_empty() && !put(&mut spool, &mut pending).await {
            break Err(HttpFailure::LocalFile);
        }
        match tokio::time::timeout(idle, response.body_mut().frame()).await {
            Err(_) => break Err(HttpFailure::Timeout),
            Ok(None) => break Ok(()),
            Ok(Some(Err(_))) => break Err(HttpFailure::ConnectionLost),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    pending.extend_from_slice(&data);
                }
            }
        }
    };
    let (writer, written) = spool.finish().await;
    let outcome = match (outcome, written) {
        (Ok(()), Err(e)) | (Err(HttpFailure::LocalFile), Err(e)) => Err(fs_failure(&e)),
        (outcome, _) => outcome,
    };
    match (outcome, writer) {
        (Ok(()), Some(writer)) => writer.commit().map_err(|e| fs_failure(&e)),
        (Ok(()), None) => Err(HttpFailure::LocalFile),
        (Err(e), writer) => {
            if let Some(writer) = writer {
                writer.discard();
            }
            Err(e)
        }
    }
}

/// Moves `pending` into the spool, chunk by chunk.
async fn put(spool: &mut Spool, pending: &mut Vec<u8>) -> bool {
    while !pending.is_empty() {
        let Some(mut chunk) = spool.chunk() else {
            return false;
        };
        let n = pending.len().min(chunk.len());
        chunk[..n].copy_from_slice(&pending[..n]);
        pending.drain(..n);
        if !spool.write(chunk, n).await {
            return false;
        }
    }
    true
}

fn fs_failure(e: &FsError) -> HttpFailure {
    match e {
        FsError::NotEnoughSpace => HttpFailure::FileSystemFull,
        _ => HttpFailure::LocalFile,
    }
}
