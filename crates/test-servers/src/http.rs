//! An HTTP/1.1 server (hyper) on loopback for testing the module's HTTP client service
//! (`+UHTTPC`), plain or behind TLS, modelled on ubxlib's test HTTP server: files live in memory,
//! keyed by path, and every request is recorded for the test to inspect.
//!
//! | request | answer |
//! |---|---|
//! | `GET /path` | `200` with the stored file (`Content-Type` as stored, default `application/octet-stream`), or `404` with a short text body |
//! | `HEAD /path` | the same status and headers (`Content-Length` included), no body |
//! | `PUT /path` | stores the request body (and its `Content-Type`); `201 Created`, or `200` when it replaced a file; empty body |
//! | `POST /path` | stores the request body like `PUT` and answers `200` with the stored body as the response body |
//! | `DELETE /path` | `200` (empty body) if the file existed, else `404` |
//! | other methods | `405` with `Allow` |
//! | `/redirect?to=<target>[&code=<3xx>]` | `302` (or `301`/`303`/`307`/`308`) with `Location: <target>` (percent-decoded; default `/`) |
//! | `/status/<code>` | that status (`200..=599`) with a short text body (none for `204`/`304`) |
//! | `/slow/<bytes>[?rate=<bytes_per_sec>]` | `200`, `Content-Length: <bytes>`, pattern bytes sent at that rate (default [`DEFAULT_RATE`]): headers at once, then a tenth of a second's worth at a time |
//! | `/truncated/<bytes>` | `200`, `Content-Length: <bytes>`, but only the first `<bytes> / 2` pattern bytes, then the connection is closed once they are flushed (for TLS without `close_notify`); `/truncated/0` says `Connection: close` |
//! | `/chunked/<bytes>[?chunk=<size>]` | `200`, `Transfer-Encoding: chunked`, `<bytes>` pattern bytes in chunks of `<size>` (1..=65536) or, by default, of 1, 2, 3, 10, 100, 1000, 4096 and 65536 bytes in turn |
//! | `/pattern/<bytes>` | `200`, `Content-Length: <bytes>`, pattern bytes made on the fly (any size: nothing is held in memory) |
//!
//! The pattern is byte `i` = `i % 256` ([`pattern`]). The special paths answer any method
//! (a `POST /status/500` uploads and gets `500`), so no file can be stored under them. A
//! malformed special path (`/status/abc`, `/slow/10?rate=0`) gets `400`.
//!
//! File paths are the path of the request target exactly as sent (not percent-decoded, without
//! the query); [`HttpServer::put_file`] and the other accessors add a missing leading `/`.
//! Request bodies of every method are read whole into memory, up to [`MAX_UPLOAD`] bytes; a
//! longer one (or a `Content-Length` announcing one) gets `413` and the connection closed.
//!
//! Every request that reaches the server's handler is recorded ([`HttpServer::requests`]) after
//! its body was read and before it is answered, so once a client has its response, the record
//! is there. Requests hyper itself refuses (malformed request line or headers: `400`, too many
//! headers: `431`) are not. Header names are recorded lowercase (as hyper parses them); the
//! response header names go out in title case (`Content-Length`), like most servers'.
//!
//! Keep-alive works as hyper does it: HTTP/1.1 connections stay open unless a side says
//! `Connection: close`; an idle connection that starts a request but does not finish its header
//! within 30 s is closed. Each server binds `127.0.0.1:0` unless started with
//! [`HttpServer::start_on`], runs on the tokio runtime it was started from, and stops when it is
//! dropped (the accept task and every connection task are aborted).
//!
//! For a check against an independent implementation there is [`python_http_server`]: Python's
//! `http.server` serving a directory.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use test_servers::http::HttpServer;
//! let server = HttpServer::start().await?;
//! server.put_file("/hello.txt", b"hi".to_vec());
//! // … have the module GET server.url("/hello.txt"), PUT "/up.bin" …
//! assert_eq!(server.requests()[0].method, "GET");
//! assert_eq!(server.file("/up.bin"), Some(b"uploaded".to_vec()));
//! # Ok(()) }
//! ```

mod body;
mod flush;
mod python;

pub use body::pattern;
pub use python::{PYTHON_READY_TIMEOUT, PythonHttpServer, python_http_server};

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::pki;
use crate::sockets::{HANDSHAKE_TIMEOUT, LOOPBACK};
use body::{PatternBody, ReplyBody};
use flush::{FlushSignal, FlushWatch};

/// The largest request body the server takes (512 MiB); a longer one gets `413`.
pub const MAX_UPLOAD: u64 = 512 * 1024 * 1024;

/// The rate of `/slow/<bytes>` without `?rate=`: bytes per second.
pub const DEFAULT_RATE: u64 = 1024;

/// The most memory reserved up front for a request body, whatever its `Content-Length` says.
const RESERVE_MAX: u64 = 64 * 1024 * 1024;

const OCTET_STREAM: &str = "application/octet-stream";

/// One request the server handled, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `PUT`, … as sent.
    pub method: String,
    /// The path of the request target as sent (not percent-decoded), without the query.
    pub path: String,
    /// The query (after `?`), if the target had one.
    pub query: Option<String>,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// Every header line in arrival order (names lowercase, values as sent; bytes that are not
    /// UTF-8 are replaced by U+FFFD).
    pub headers: Vec<(String, String)>,
    /// Body bytes received (at most [`MAX_UPLOAD`] + one frame).
    pub body_len: u64,
    /// Whether the whole body arrived (`false`: the client closed or broke off mid-body, or it
    /// was too long).
    pub body_complete: bool,
}

impl SeenRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (any case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The request target: path and, if any, `?query`.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

/// A stored file.
#[derive(Clone, Debug)]
struct StoredFile {
    content_type: Option<String>,
    data: Bytes,
}

/// What the server and its handle share.
#[derive(Debug, Default)]
struct State {
    files: Mutex<HashMap<String, StoredFile>>,
    requests: Mutex<Vec<SeenRequest>>,
    connections: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `path` with a leading `/`.
fn key(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// The accept task; aborted on drop (which drops its [`JoinSet`] of connections, aborting them).
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The test CA of a TLS server.
#[derive(Debug)]
struct TestCa {
    pem: String,
    der: Vec<u8>,
}

/// An HTTP/1.1 server, plain or HTTPS. See the [module docs](self).
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    ca: Option<TestCa>,
    state: Arc<State>,
    _task: Task,
}

impl HttpServer {
    /// Plain HTTP on `127.0.0.1:0`.
    pub async fn start() -> io::Result<Self> {
        Self::start_on(LOOPBACK, false).await
    }

    /// HTTPS on `127.0.0.1:0` (rustls, TLS 1.2 and 1.3, no client certificate asked for) with
    /// a fresh test CA ([`ca_pem`](Self::ca_pem)) that signs an ECDSA P-256 certificate for
    /// `localhost`, `127.0.0.1` and `::1`.
    pub async fn start_tls() -> io::Result<Self> {
        Self::start_on(LOOPBACK, true).await
    }

    /// On `bind` (port 0 for an ephemeral port), HTTPS if `tls`.
    pub async fn start_on(bind: SocketAddr, tls: bool) -> io::Result<Self> {
        let (acceptor, ca) = if tls {
            let pki = pki::localhost_pki()?;
            let acceptor = TlsAcceptor::from(Arc::new(pki.server_config()?));
            let ca = TestCa {
                der: pki.ca_der.to_vec(),
                pem: pki.ca_pem,
            };
            (Some(acceptor), Some(ca))
        } else {
            (None, None)
        };
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let task = Task(tokio::spawn(accept_loop(listener, state.clone(), acceptor)));
        Ok(HttpServer {
            addr,
            ca,
            state,
            _task: task,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether this is the HTTPS variant.
    pub fn is_tls(&self) -> bool {
        self.ca.is_some()
    }

    /// `http://127.0.0.1:<port><path>` (`https://` for TLS; a missing leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, key(path))
    }

    /// The test CA's certificate, PEM, for the TLS variant (`None` for plain HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|ca| ca.pem.as_str())
    }

    /// The test CA's certificate, DER, for the TLS variant.
    pub fn ca_der(&self) -> Option<&[u8]> {
        self.ca.as_ref().map(|ca| ca.der.as_slice())
    }

    /// The names the TLS certificate is valid for: `localhost`, `127.0.0.1`, `::1`.
    pub fn server_names(&self) -> &'static [&'static str] {
        &pki::SERVER_NAMES
    }

    /// Store a file (served as `application/octet-stream`), replacing any at `path`.
    pub fn put_file(&self, path: &str, contents: impl Into<Vec<u8>>) {
        self.store(path, None, contents.into());
    }

    /// Store a file served with `Content-Type: <content_type>` (if that is a valid header
    /// value; else as `application/octet-stream`).
    pub fn put_file_with_type(&self, path: &str, content_type: &str, contents: impl Into<Vec<u8>>) {
        self.store(path, Some(content_type.to_owned()), contents.into());
    }

    fn store(&self, path: &str, content_type: Option<String>, data: Vec<u8>) {
        let file = StoredFile {
            content_type,
            data: data.into(),
        };
        lock(&self.state.files).insert(key(path), file);
    }

    /// The stored file at `path` (uploaded or put), if any.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.state.files)
            .get(&key(path))
            .map(|f| f.data.to_vec())
    }

    /// The content type stored with the file at `path` (`None`: no file, or none given).
    pub fn content_type(&self, path: &str) -> Option<String> {
        lock(&self.state.files)
            .get(&key(path))
            .and_then(|f| f.content_type.clone())
    }

    /// Remove the file at `path`; whether there was one.
    pub fn remove_file(&self, path: &str) -> bool {
        lock(&self.state.files).remove(&key(path)).is_some()
    }

    /// The paths of all stored files, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = lock(&self.state.files).keys().cloned().collect();
        paths.sort();
        paths
    }

    /// Every request handled so far, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.state.requests).clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }

    /// TCP connections accepted so far (for TLS: whether or not the handshake succeeded).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }
}

/// Accept connections forever, each served in a task of a [`JoinSet`] the loop owns.
async fn accept_loop(listener: TcpListener, state: Arc<State>, tls: Option<TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((tcp, _peer)) => {
                state.connections.fetch_add(1, Ordering::Relaxed);
                connections.spawn(connection(tcp, state.clone(), tls.clone()));
            }
            // Out of descriptors or the like: wait a little rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

async fn connection(tcp: TcpStream, state: Arc<State>, tls: Option<TlsAcceptor>) {
    // Small paced frames should leave at once.
    let _ = tcp.set_nodelay(true);
    match tls {
        None => serve(tcp, state).await,
        Some(acceptor) => {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                serve(stream, state).await;
            }
        }
    }
}

/// Serve HTTP/1.1 on one connection until either side closes it.
async fn serve<S>(io: S, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let signal = Arc::new(FlushSignal::default());
    let io = TokioIo::new(FlushWatch::new(io, signal.clone()));
    let service = service_fn(move |req| handle(state.clone(), signal.clone(), req));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .title_case_headers(true)
        .serve_connection(io, service)
        .await;
}

async fn handle(
    state: Arc<State>,
    signal: Arc<FlushSignal>,
    req: Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let upload = Upload::read(body, declared_length(&parts.headers)).await;
    lock(&state.requests).push(seen(&parts, &upload));
    let response = if upload.too_large {
        let mut response = text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    } else if !upload.complete {
        text(StatusCode::BAD_REQUEST, "request body incomplete\n")
    } else {
        route(&state, &parts, upload.data, &signal)
    };
    Ok(if parts.method == Method::HEAD {
        response.map(|_| ReplyBody::Empty)
    } else {
        response
    })
}

/// A request body as read.
struct Upload {
    data: Vec<u8>,
    len: u64,
    complete: bool,
    too_large: bool,
}

impl Upload {
    /// Read the whole body, up to [`MAX_UPLOAD`] bytes (not at all if `declared` is longer).
    async fn read(mut body: Incoming, declared: Option<u64>) -> Upload {
        let mut upload = Upload {
            data: Vec::new(),
            len: 0,
            complete: false,
            too_large: false,
        };
        if declared.is_some_and(|len| len > MAX_UPLOAD) {
            upload.too_large = true;
            return upload;
        }
        let reserve = declared.unwrap_or(0).min(RESERVE_MAX);
        upload.data.reserve(usize::try_from(reserve).unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return upload;
            };
            let Ok(chunk) = frame.into_data() else {
                continue; // trailers
            };
            upload.len += chunk.len() as u64;
            if upload.len > MAX_UPLOAD {
                upload.too_large = true;
                return upload;
            }
            upload.data.extend_from_slice(&chunk);
        }
        upload.complete = true;
        upload
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn seen(parts: &Parts, upload: &Upload) -> SeenRequest {
    SeenRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body_len: upload.len,
        body_complete: upload.complete,
    }
}

/// The answer to a request whose body was read whole.
fn route(
    state: &State,
    parts: &Parts,
    data: Vec<u8>,
    signal: &Arc<FlushSignal>,
) -> Response<ReplyBody> {
    match special(parts, signal) {
        Some(Ok(response)) => return response,
        Some(Err(why)) => return text(StatusCode::BAD_REQUEST, &format!("bad request: {why}\n")),
        None => {}
    }
    let path = parts.uri.path();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match parts.method {
        Method::GET | Method::HEAD => match lock(&state.files).get(path) {
            Some(file) => file_reply(StatusCode::OK, file),
            None => not_found(),
        },
        Method::PUT => {
            let file = StoredFile {
                content_type,
                data: data.into(),
            };
            match lock(&state.files).insert(path.to_owned(), file) {
                Some(_) => empty(StatusCode::OK),
                None => empty(StatusCode::CREATED),
            }
        }
        Method::POST => {
            let file = StoredFile {
                content_type,
                data: data.into(),
            };
            let response = file_reply(StatusCode::OK, &file);
            lock(&state.files).insert(path.to_owned(), file);
            response
        }
        Method::DELETE => match lock(&state.files).remove(path) {
            Some(_) => empty(StatusCode::OK),
            None => not_found(),
        },
        _ => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, PUT, POST, DELETE"),
            );
            response
        }
    }
}

/// The special paths: `None` if `parts` names none, `Err(why)` if it names one badly.
fn special(
    parts: &Parts,
    signal: &Arc<FlushSignal>,
) -> Option<Result<Response<ReplyBody>, String>> {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    if path == "/redirect" {
        return Some(redirect(query));
    }
    let (kind, arg) = path.strip_prefix('/')?.split_once('/')?;
    let response = match kind {
        "status" => status(arg),
        "slow" => slow(arg, query),
        "truncated" => count(arg).map(|len| truncated_reply(len, signal)),
        "chunked" => chunked(arg, query),
        "pattern" => count(arg).map(|len| pattern_reply(len, PatternBody::sized(len))),
        _ => return None,
    };
    Some(response)
}

/// `/slow/<len>[?rate=<bytes_per_sec>]`.
fn slow(arg: &str, query: &str) -> Result<Response<ReplyBody>, String> {
    let len = count(arg)?;
    let rate = match query_param(query, "rate") {
        Some(rate) => number(rate, "rate")?,
        None => DEFAULT_RATE,
    };
    if rate == 0 {
        return Err("rate must be at least 1".to_owned());
    }
    Ok(pattern_reply(len, PatternBody::sized(len).paced(rate)))
}

/// `/chunked/<len>[?chunk=<size>]`.
fn chunked(arg: &str, query: &str) -> Result<Response<ReplyBody>, String> {
    let len = count(arg)?;
    let chunk = match query_param(query, "chunk") {
        Some(size) => Some(
            number(size, "chunk")
                .ok()
                .and_then(|s| usize::try_from(s).ok())
                .filter(|s| (1..=body::MAX_FRAME).contains(s))
                .ok_or_else(|| format!("chunk must be 1..={}", body::MAX_FRAME))?,
        ),
        None => None,
    };
    Ok(chunked_reply(PatternBody::chunked(len, chunk)))
}

fn redirect(query: &str) -> Result<Response<ReplyBody>, String> {
    let to = match query_param(query, "to") {
        Some(to) => percent_decode(to)?,
        None => "/".to_owned(),
    };
    let code = match query_param(query, "code") {
        Some(code) => number(code, "code")?,
        None => 302,
    };
    let status = match code {
        301 | 302 | 303 | 307 | 308 => {
            StatusCode::from_u16(code as u16).map_err(|e| e.to_string())?
        }
        _ => {
            return Err(format!(
                "redirect code {code} is not 301, 302, 303, 307 or 308"
            ));
        }
    };
    let location =
        HeaderValue::from_str(&to).map_err(|_| format!("{to:?} cannot be a Location"))?;
    let mut response = text(status, &format!("redirecting to {to}\n"));
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

fn status(arg: &str) -> Result<Response<ReplyBody>, String> {
    let code = number(arg, "status")?;
    let status = u16::try_from(code)
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| format!("status {code} is not in 200..=599"))?;
    if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        let mut response = Response::new(ReplyBody::Empty);
        *response.status_mut() = status;
        return Ok(response);
    }
    let reason = status.canonical_reason().unwrap_or("Status");
    Ok(text(status, &format!("{code} {reason}\n")))
}

/// A byte count from a path segment.
fn count(arg: &str) -> Result<u64, String> {
    number(arg, "byte count")
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{what} {text:?} is not a number"))
}

/// The raw (still percent-encoded) value of `name` in `query`.
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v)
    })
}

/// Decode `%XX` escapes and `+` (space) in a query value.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad escape in {text:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

fn with_length(mut response: Response<ReplyBody>, len: u64) -> Response<ReplyBody> {
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn empty(status: StatusCode) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::Empty);
    *response.status_mut() = status;
    with_length(response, 0)
}

fn text(status: StatusCode, body: &str) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::full(body.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    with_length(response, body.len() as u64)
}

fn not_found() -> Response<ReplyBody> {
    text(StatusCode::NOT_FOUND, "not found\n")
}

fn file_reply(status: StatusCode, file: &StoredFile) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::full(file.data.clone()));
    *response.status_mut() = status;
    let content_type = file
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static(OCTET_STREAM));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    with_length(response, file.data.len() as u64)
}

fn pattern_reply(len: u64, body: PatternBody) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::Pattern(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    with_length(response, len)
}

/// `/truncated/<len>`: a cut pattern body. With nothing to cut (`len` 0) hyper would keep the
/// connection, so that answer says `Connection: close` instead.
fn truncated_reply(len: u64, signal: &Arc<FlushSignal>) -> Response<ReplyBody> {
    let mut response = pattern_reply(len, PatternBody::truncated(len, signal.clone()));
    if len == 0 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn chunked_reply(body: PatternBody) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::Pattern(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    response
}
