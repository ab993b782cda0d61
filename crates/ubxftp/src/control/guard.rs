//! What a request must show before it reaches the control API, in this order:
//!
//! 1. a `Host` that is the address the API serves (`403`): a web page that rebinds its own name
//!    to 127.0.0.1 still sends its own name;
//! 2. no `Origin` but the API's own (`403`): a browser names the page that sent the request;
//! 3. `Authorization: Bearer <token>` (`401`), unless the API runs without one
//!    (`--control-no-auth`, loopback only), or the request is a `GET` of the trace's page
//!    (`/view`, `/modems/{id}/view`: a browser's navigation cannot send a token; the page holds
//!    nothing of the module, and what it fetches needs the token);
//! 4. a body, or a method that carries one, typed `application/json` (`415`): a cross-site form
//!    or a "simple" `fetch` can only send `text/plain` and form types without a preflight.
//!
//! A request that passes then has [`REQUEST_TIMEOUT`] to be read and answered (`408`), and a body
//! of at most [`MAX_BODY`] bytes (`413`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::token::Token;

/// How long a request (its body included) may take once its headers are in.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request body: a fault or a link is a few hundred bytes. A longer `Content-Length`
/// is refused (`413`) before the body is read; a body that runs past it without one, as it
/// passes the limit.
pub const MAX_BODY: usize = 64 * 1024;

/// Longest error text an answer carries: no error echoes a large input back.
const MAX_ERROR: usize = 512;

/// An answer `{"error": message}`; a message longer than [`MAX_ERROR`] characters is cut.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR) {
        message.truncate(cut);
        message.push('…');
    }
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// `text` quoted for an error, at most `max` characters of it.
pub fn quote_prefix(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// The checks of one API: its address, the names it may be reached by, its token.
pub struct Guard {
    local: SocketAddr,
    names: Vec<String>,
    token: Option<Token>,
}

impl Guard {
    /// `names`: host names besides the address (`--control-host`), e.g. a Kubernetes Service.
    pub fn new(local: SocketAddr, names: &[String], token: Option<Token>) -> Guard {
        Guard {
            local,
            names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            token,
        }
    }

    /// Whether `host` (a `Host` header's value) names this API: its port, and its address — or,
    /// on loopback, `localhost`; on an unspecified address (0.0.0.0), any address literal, which
    /// no rebound DNS name can be; or a name given with `--control-host`.
    fn host_ok(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let (name, port) = match host.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((name, "")) => (name, None),
                Some((name, port)) => match port.strip_prefix(':') {
                    Some(p) => (name, Some(p)),
                    None => return false,
                },
                None => return false,
            },
            None => match host.rsplit_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host.as_str(), None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok(),
            None => Some(80),
        };
        if port != Some(self.local.port()) {
            return false;
        }
        let ip = self.local.ip();
        match name.parse::<IpAddr>() {
            Ok(asked) => asked == ip || ip.is_unspecified(),
            Err(_) => {
                (name == "localhost" && (ip.is_loopback() || ip.is_unspecified()))
                    || self.names.iter().any(|n| n == name)
            }
        }
    }

    /// The first check `headers` fail: the status to answer, and why.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), (StatusCode, String)> {
        let forbidden = |m: String| Err((StatusCode::FORBIDDEN, m));
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = match (hosts.next().map(|h| h.to_str()), hosts.next()) {
            (Some(Ok(h)), None) if self.host_ok(h) => h,
            (Some(Ok(h)), None) => {
                return forbidden(format!(
                    "Host {} is not this API's address ({}); add --control-host NAME to reach it by a name",
                    quote_prefix(h, 64),
                    self.local
                ));
            }
            _ => return forbidden("one Host header, naming this API's address".into()),
        };
        if let Some(origin) = headers.get(header::ORIGIN)
            && origin.as_bytes() != format!("http://{host}").as_bytes()
        {
            return forbidden(format!(
                "cross-origin request from {}",
                quote_prefix(&String::from_utf8_lossy(origin.as_bytes()), 64)
            ));
        }
        if let Some(token) = self.token.as_ref().filter(|_| !is_page(method, path)) {
            let offered = headers
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes())
                .and_then(|v| {
                    let (scheme, rest) = v.split_at_checked(7)?;
                    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
                });
            if !offered.is_some_and(|o| token.matches(o)) {
                // The file is not named: a client that has no token learns nothing of the host.
                return Err((
                    StatusCode::UNAUTHORIZED,
                    "this API needs Authorization: Bearer <token>; the token is in the file \
                     `serve` printed as `control token:`"
                        .into(),
                ));
            }
        }
        let has_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH)
            || headers.contains_key(header::TRANSFER_ENCODING)
            || headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|l| l.as_bytes() != b"0");
        if has_body && !is_json(headers) {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be Content-Type: application/json".into(),
            ));
        }
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.parse::<u64>().ok());
        if length.is_some_and(|l| l > MAX_BODY as u64) {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a body of at most {MAX_BODY} bytes"),
            ));
        }
        Ok(())
    }
}

/// Whether the request is a `GET` of the trace's page, which needs no token.
fn is_page(method: &Method, path: &str) -> bool {
    let module_page = path
        .strip_prefix("/modems/")
        .and_then(|rest| rest.strip_suffix("/view"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    *method == Method::GET && (path == "/view" || module_page)
}

/// Whether the request says its body is JSON (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware: the checks, then the handler within [`REQUEST_TIMEOUT`].
pub async fn guarded(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if let Err((status, why)) =
        guard.check(request.method(), request.uri().path(), request.headers())
    {
        let mut answer = json_error(status, why);
        if status == StatusCode::UNAUTHORIZED {
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        return answer;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(answer) => answer,
        Err(_) => json_error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request was not read and answered within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(addr: &str, names: &[&str]) -> Guard {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Guard::new(addr.parse().unwrap(), &names, None)
    }

    #[test]
    fn the_host_must_be_the_apis_address() {
        let g = guard("127.0.0.1:7000", &[]);
        assert!(g.host_ok("127.0.0.1:7000"));
        assert!(g.host_ok("LOCALHOST:7000"));
        assert!(!g.host_ok("127.0.0.1:7001"));
        assert!(!g.host_ok("127.0.0.2:7000"));
        assert!(!g.host_ok("evil.example:7000"));
        assert!(!g.host_ok("127.0.0.1"));
        assert!(!g.host_ok("127.0.0.1:7000:1"));
        let g = guard("[::1]:7000", &[]);
        assert!(g.host_ok("[::1]:7000"));
        assert!(!g.host_ok("[::1]7000"));
        let g = guard("0.0.0.0:80", &["ubxftp-0.fleet"]);
        assert!(g.host_ok("10.1.2.3"));
        assert!(g.host_ok("ubxftp-0.fleet:80"));
        assert!(!g.host_ok("evil.example"));
    }

    #[test]
    fn only_the_pages_go_without_the_token() {
        assert!(is_page(&Method::GET, "/view"));
        assert!(is_page(&Method::GET, "/modems/12/view"));
        assert!(!is_page(&Method::POST, "/view"));
        assert!(!is_page(&Method::GET, "/view/"));
        assert!(!is_page(&Method::GET, "/modems//view"));
        assert!(!is_page(&Method::GET, "/modems/1/../view"));
        assert!(!is_page(&Method::GET, "/trace/rows"));
        assert!(!is_page(&Method::GET, "/trace"));
    }

    #[tokio::test]
    async fn an_error_quotes_a_short_prefix() {
        let long = "x".repeat(10_000);
        assert_eq!(quote_prefix("ab", 4), "\"ab\"");
        assert!(quote_prefix(&long, 32).len() < 60);
        let answer = json_error(StatusCode::BAD_REQUEST, long);
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.len() < MAX_ERROR + 32, "{}", body.len());
    }
}
