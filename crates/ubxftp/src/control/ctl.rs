//! `ubxftp ctl URL ...`: the control API from the command line.
//!
//! The URL is `http://HOST:PORT` (a path after it addresses a module of a fleet:
//! `http://HOST:PORT/modems/3`) or the same without `http://`. The token comes from
//! `--token-file`, then `UBXFTP_CONTROL_TOKEN`, then the file `serve` wrote for the URL's port.
//! Connecting and the answer each have `--timeout` (10 s).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::token::{self, Token};

#[derive(Args)]
pub struct CtlArgs {
    /// The API's address, as `serve` prints it (`http://127.0.0.1:PORT`), or `HOST:PORT`.
    url: String,
    /// `faults`, `faults clear`, `fault add KEY=VALUE...`, `link [SPEC]`, `state`.
    #[arg(num_args = 1.., required = true)]
    words: Vec<String>,
    /// Read the token from FILE [default: $UBXFTP_CONTROL_TOKEN, then the file `serve` wrote
    /// for the URL's port: $XDG_RUNTIME_DIR/ubxftp-control-PORT.token].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Give up when connecting, or the answer, takes longer (`10s`, `500ms`, or seconds).
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_timeout)]
    timeout: Duration,
    /// Print the answer as it came, one line of JSON (default: indented, for reading).
    #[arg(long)]
    json: bool,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let with_unit = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        format!("{text}s")
    } else {
        text.to_string()
    };
    let d =
        ubx_modem::field::spec::parse_duration("timeout", &with_unit).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("a timeout of 0 would never wait".into());
    }
    Ok(d)
}

/// Where the API is: `HOST:PORT`, its port, and the path prefix the URL gave.
#[derive(Debug)]
struct Target {
    authority: String,
    port: u16,
    base: String,
}

/// Reads `http://HOST:PORT[/PATH]` or `HOST:PORT[/PATH]`; refuses other schemes, by name.
fn target(url: &str) -> Result<Target, String> {
    let rest = match url.split_once("://") {
        None => url,
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
            return Err(format!(
                "{url}: https is not supported: the control API speaks plain HTTP. Use \
                 http://HOST:PORT, and reach a remote API through a tunnel (ssh -L) or a \
                 TLS-terminating proxy"
            ));
        }
        Some((scheme, _)) => {
            return Err(format!(
                "{url}: unsupported scheme {scheme:?}: give http://HOST:PORT or HOST:PORT"
            ));
        }
    };
    let uri: hyper::Uri = format!("http://{rest}")
        .parse()
        .map_err(|e| format!("{url}: {e} (expected http://HOST:PORT or HOST:PORT)"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url}: expected http://HOST:PORT or HOST:PORT"))?;
    Ok(Target {
        authority: authority.as_str().to_string(),
        port: authority.port_u16().unwrap_or(80),
        base: uri.path().trim_end_matches('/').to_string(),
    })
}

/// The token to send, and where it was looked for (for a 401's message).
fn find_token(flag: Option<&Path>, port: u16) -> Result<(Option<Token>, String), String> {
    if let Some(path) = flag {
        let token =
            Token::read(path).map_err(|e| format!("--token-file {}: {e}", path.display()))?;
        return Ok((Some(token), format!("--token-file {}", path.display())));
    }
    if let Ok(text) = std::env::var(token::ENV)
        && !text.is_empty()
    {
        let token = Token::parse(&text).map_err(|e| format!("{}: {e}", token::ENV))?;
        return Ok((Some(token), token::ENV.to_string()));
    }
    let path = token::default_path(port);
    match Token::read(&path) {
        Ok(token) => Ok((Some(token), path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
            None,
            format!(
                "none found: not in --token-file, nor {}, nor {}",
                token::ENV,
                path.display()
            ),
        )),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The answer as printed: indented JSON unless `compact` (or not JSON at all).
fn shown(text: &str, compact: bool) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if !compact => {
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.to_string())
        }
        _ => text.trim_end().to_string(),
    }
}

/// Runs one request and prints the answer; an HTTP error status is an error.
pub async fn run(args: &CtlArgs) -> Result<(), String> {
    let target = target(&args.url)?;
    let (method, path, body) = request(&args.words)?;
    let (token, from) = find_token(args.token_file.as_deref(), target.port)?;
    let (status, text) = send(&target, method, &path, body, token.as_ref(), args.timeout).await?;
    if status.is_success() {
        if !text.is_empty() {
            println!("{}", shown(&text, args.json));
        }
        Ok(())
    } else if status == hyper::StatusCode::UNAUTHORIZED {
        Err(format!(
            "{status}: {text}\nthe token: {from}; give it with --token-file FILE or {}",
            token::ENV
        ))
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
        ["link", spec] => (
            hyper::Method::PUT,
            "/link".into(),
            Some(serde_json::json!({ "link": spec }).to_string()),
        ),
        ["state"] => (hyper::Method::GET, "/state".into(), None),
        _ => return Err(usage.into()),
    })
}

async fn send(
    target: &Target,
    method: hyper::Method,
    path: &str,
    body: Option<String>,
    token: Option<&Token>,
    timeout: Duration,
) -> Result<(hyper::StatusCode, String), String> {
    let authority = target.authority.as_str();
    let late = |what: &str| {
        format!(
            "{authority}: {what} within {} (--timeout)",
            humanize(timeout)
        )
    };
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority))
        .await
        .map_err(|_| late("no connection"))?
        .map_err(|e| format!("{authority}: {e}"))?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", target.base))
        .header(hyper::header::HOST, authority);
    if body.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    if let Some(token) = token {
        request = request.header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", token.as_str()),
        );
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        tokio::spawn(conn);
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
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| late("no answer"))?
}

/// `10 s`, `500 ms`.
fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_and_without_a_scheme() {
        let t = target("127.0.0.1:7000").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.port, t.base.as_str()),
            ("127.0.0.1:7000", 7000, "")
        );
        let t = target("HTTP://localhost:7000/modems/3/").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.base.as_str()),
            ("localhost:7000", "/modems/3")
        );
        assert_eq!(target("http://example.com").unwrap().port, 80);
        assert!(
            target("https://127.0.0.1:7000")
                .unwrap_err()
                .contains("https is not supported")
        );
        assert!(
            target("ftp://127.0.0.1:7000")
                .unwrap_err()
                .contains("unsupported scheme")
        );
        assert_eq!(parse_timeout("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
