//! The HTTP server of `test_servers::http`, exercised with a raw HTTP/1.1 client written here
//! (so every byte on the wire is the test's): the file store (GET, HEAD, PUT, POST, DELETE),
//! the fault paths, request recording, keep-alive, limits, HTTPS with the test CA, stop on drop;
//! and Python's `http.server` as an independent server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_servers::http::{HttpServer, MAX_UPLOAD, SeenRequest, pattern, python_http_server};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const T: Duration = Duration::from_secs(20);

/// A parsed response.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// The status line and header lines as received.
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Chunk sizes, for a chunked body.
    chunks: Vec<usize>,
    /// The connection closed before the body was complete.
    cut_short: bool,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length").map(|v| v.parse().unwrap())
    }
}

/// One client connection, kept alive across requests.
struct Conn<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(io: S) -> Self {
        Conn {
            io: BufReader::new(io),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        timeout(T, io.write_all(bytes)).await.unwrap().unwrap();
        timeout(T, io.flush()).await.unwrap().unwrap();
    }

    /// Read a status line and headers.
    async fn head(&mut self) -> Reply {
        let mut head = String::new();
        loop {
            let mut line = Vec::new();
            let n = timeout(T, self.io.read_until(b'\n', &mut line))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed in the head: {head:?}");
            let line = String::from_utf8(line).unwrap();
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        Reply {
            status,
            head,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
            cut_short: false,
        }
    }

    /// Read a whole response; `no_body` for answers to HEAD.
    async fn response(&mut self, no_body: bool) -> Reply {
        let mut reply = self.head().await;
        if no_body || matches!(reply.status, 204 | 304) {
            return reply;
        }
        if reply.header("transfer-encoding") == Some("chunked") {
            self.chunked(&mut reply).await;
        } else if let Some(len) = reply.content_length() {
            let mut body = Vec::new();
            let read = timeout(T, (&mut self.io).take(len).read_to_end(&mut body))
                .await
                .unwrap();
            // TLS without close_notify: rustls reports the cut as UnexpectedEof.
            if let Err(e) = read {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
            }
            reply.cut_short = (body.len() as u64) < len;
            reply.body = body;
        } else {
            timeout(T, self.io.read_to_end(&mut reply.body))
                .await
                .unwrap()
                .unwrap();
        }
        reply
    }

    async fn chunked(&mut self, reply: &mut Reply) {
        loop {
            let mut line = String::new();
            timeout(T, self.io.read_line(&mut line))
                .await
                .unwrap()
                .unwrap();
            let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
            if size == 0 {
                let mut end = String::new();
                timeout(T, self.io.read_line(&mut end))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(end, "\r\n", "no trailers expected");
                return;
            }
            let mut chunk = vec![0u8; size + 2];
            timeout(T, self.io.read_exact(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&chunk[size..], b"\r\n");
            reply.chunks.push(size);
            reply.body.extend_from_slice(&chunk[..size]);
        }
    }

    /// Send a request and read its response.
    async fn exchange(&mut self, request: &[u8]) -> Reply {
        self.send(request).await;
        let no_body = request.starts_with(b"HEAD ");
        self.response(no_body).await
    }

    /// Whether the server closed the connection (EOF within a while).
    async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            timeout(T, self.io.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

async fn connect(addr: SocketAddr) -> Conn<TcpStream> {
    Conn::new(timeout(T, TcpStream::connect(addr)).await.unwrap().unwrap())
}

/// A request with `Host`, the `extra` header lines (each ending in `\r\n`) and, unless it is
/// empty, a body with `Content-Length`.
fn request(method: &str, target: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}");
    if !body.is_empty() || method == "PUT" || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn get(target: &str) -> Vec<u8> {
    request("GET", target, "", b"")
}

/// One request on a fresh connection.
async fn once(server: &HttpServer, request: &[u8]) -> Reply {
    connect(server.addr()).await.exchange(request).await
}

#[tokio::test]
async fn get_serves_stored_files_and_404s_the_rest() {
    let server = HttpServer::start().await.unwrap();
    server.put_file("hello.txt", b"hello world".to_vec());
    server.put_file_with_type("/page.html", "text/html", "<p>hi</p>");

    let mut conn = connect(server.addr()).await;
    let reply = conn.exchange(&get("/hello.txt")).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        reply.head
    );
    assert_eq!(reply.body, b"hello world");
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(reply.content_length(), Some(11));
    assert!(
        reply.head.contains("\r\nContent-Length: 11\r\n"),
        "title case: {}",
        reply.head
    );

    let reply = conn.exchange(&get("/page.html")).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"<p>hi</p>".as_slice())
    );
    assert_eq!(reply.header("content-type"), Some("text/html"));

    let reply = conn.exchange(&get("/nope")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, b"not found\n");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // A query does not change which file is meant.
    let reply = conn.exchange(&get("/hello.txt?x=1")).await;
    assert_eq!(reply.body, b"hello world");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn head_sends_the_headers_of_get_without_a_body() {
    let server = HttpServer::start().await.unwrap();
    server.put_file("/f.bin", vec![7u8; 1000]);
    let mut conn = connect(server.addr()).await;
    let head = conn.exchange(&request("HEAD", "/f.bin", "", b"")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(1000));
    assert_eq!(
        head.header("content-type"),
        Some("application/octet-stream")
    );
    // Were a body sent, it would be read as the next response's head.
    let missing = conn.exchange(&request("HEAD", "/missing", "", b"")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_length(), Some(10));
    for target in ["/pattern/5000", "/slow/100000?rate=10", "/truncated/1000"] {
        let reply = conn.exchange(&request("HEAD", target, "", b"")).await;
        assert_eq!(reply.status, 200, "{target}");
        assert!(reply.content_length().is_some(), "{target}");
    }
    let get = conn.exchange(&get("/f.bin")).await;
    assert_eq!(get.body, vec![7u8; 1000]);
}

#[tokio::test]
async fn put_stores_201_then_200_when_replacing() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let put = request("PUT", "/up/a.txt", "Content-Type: text/plain\r\n", b"first");
    let reply = conn.exchange(&put).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.content_length(), Some(0));
    assert!(reply.body.is_empty());
    assert_eq!(server.file("/up/a.txt"), Some(b"first".to_vec()));
    assert_eq!(server.file("up/a.txt"), Some(b"first".to_vec()));
    assert_eq!(
        server.content_type("/up/a.txt").as_deref(),
        Some("text/plain")
    );

    let reply = conn
        .exchange(&request("PUT", "/up/a.txt", "", b"second"))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(server.file("/up/a.txt"), Some(b"second".to_vec()));
    assert_eq!(server.content_type("/up/a.txt"), None);

    // An empty upload is a file too.
    let reply = conn.exchange(&request("PUT", "/empty", "", b"")).await;
    assert_eq!(reply.status, 201);
    assert_eq!(server.file("/empty"), Some(Vec::new()));
    let reply = conn.exchange(&get("/empty")).await;
    assert_eq!((reply.status, reply.content_length()), (200, Some(0)));
    assert_eq!(server.paths(), ["/empty", "/up/a.txt"]);
}

#[tokio::test]
async fn post_stores_the_body_and_sends_it_back() {
    let server = HttpServer::start().await.unwrap();
    let body = pattern(3, 70_000);
    let post = request(
        "POST",
        "/form",
        "Content-Type: application/x-test\r\n",
        &body,
    );
    let reply = once(&server, &post).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, body);
    assert_eq!(reply.header("content-type"), Some("application/x-test"));
    assert_eq!(server.file("/form"), Some(body.clone()));
    let reply = once(&server, &get("/form")).await;
    assert_eq!(reply.body, body);
}

#[tokio::test]
async fn delete_removes_existing_files_and_404s_missing_ones() {
    let server = HttpServer::start().await.unwrap();
    server.put_file("/gone", b"x".to_vec());
    let mut conn = connect(server.addr()).await;
    let reply = conn.exchange(&request("DELETE", "/gone", "", b"")).await;
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert_eq!(server.file("/gone"), None);
    let reply = conn.exchange(&request("DELETE", "/gone", "", b"")).await;
    assert_eq!(reply.status, 404);
    assert!(server.paths().is_empty());
    server.put_file("/again", b"y".to_vec());
    assert!(server.remove_file("again"));
    assert!(!server.remove_file("again"));
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let server = HttpServer::start().await.unwrap();
    let reply = once(&server, &request("PATCH", "/x", "", b"abc")).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, PUT, POST, DELETE"));
    let reply = once(&server, &request("OPTIONS", "/x", "", b"")).await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn redirect_answers_3xx_with_location() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let reply = conn.exchange(&get("/redirect?to=/x")).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), Some("/x"));
    assert_eq!(reply.body, b"redirecting to /x\n");

    let reply = conn
        .exchange(&get(
            "/redirect?code=307&to=http%3A%2F%2Flocalhost%3A1%2Fa%20b",
        ))
        .await;
    assert_eq!(reply.status, 307);
    assert_eq!(reply.header("location"), Some("http://localhost:1/a b"));

    let reply = conn.exchange(&get("/redirect")).await;
    assert_eq!((reply.status, reply.header("location")), (302, Some("/")));
    for bad in [
        "/redirect?code=200&to=/",
        "/redirect?to=%0d%0aX:1",
        "/redirect?to=%zz",
    ] {
        let reply = conn.exchange(&get(bad)).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert!(reply.header("location").is_none(), "{bad}");
    }
}

#[tokio::test]
async fn status_paths_answer_any_method_with_that_status() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let reply = conn.exchange(&get("/status/418")).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (418, b"418 I'm a teapot\n".as_slice())
    );
    assert!(reply.head.starts_with("HTTP/1.1 418 I'm a teapot\r\n"));
    let reply = conn
        .exchange(&request("POST", "/status/500", "", b"data"))
        .await;
    assert_eq!(reply.status, 500);
    assert_eq!(
        server.file("/status/500"),
        None,
        "special paths store nothing"
    );
    let reply = conn.exchange(&get("/status/599")).await;
    assert_eq!(reply.status, 599);
    let reply = conn.exchange(&get("/status/204")).await;
    assert_eq!(reply.status, 204);
    assert!(reply.content_length().is_none());
    // Still in step after the bodiless 204.
    let reply = conn.exchange(&get("/status/201")).await;
    assert_eq!(reply.status, 201);
    for bad in [
        "/status/abc",
        "/status/99",
        "/status/600",
        "/status/",
        "/status/20/0",
    ] {
        let reply = conn.exchange(&get(bad)).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn slow_sends_the_pattern_at_the_rate() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let started = Instant::now();
    conn.send(&get("/slow/3000?rate=5000")).await;
    let mut reply = conn.head().await;
    let head_after = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_length(), Some(3000));
    let mut body = vec![0u8; 3000];
    timeout(T, conn.io.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    reply.body = body;
    assert_eq!(reply.body, pattern(0, 3000));
    assert!(
        head_after < Duration::from_millis(300),
        "head after {head_after:?}"
    );
    // 3000 bytes at 5000 B/s: 0.6 s.
    assert!(took >= Duration::from_millis(550), "took only {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");

    for bad in ["/slow/10?rate=0", "/slow/10?rate=x", "/slow/x"] {
        assert_eq!(conn.exchange(&get(bad)).await.status, 400, "{bad}");
    }
    // Without a rate: DEFAULT_RATE (1024 B/s), so 100 bytes take about 0.1 s.
    let reply = conn.exchange(&get("/slow/100")).await;
    assert_eq!(reply.body, pattern(0, 100));
}

#[tokio::test]
async fn truncated_announces_the_length_and_closes_after_half() {
    let server = HttpServer::start().await.unwrap();
    for len in [0u64, 1, 3, 1000, 4 * 1024 * 1024 + 1] {
        let mut conn = connect(server.addr()).await;
        conn.send(&get(&format!("/truncated/{len}"))).await;
        // A reader that lags: the socket buffers fill and hyper's flush has to wait for it.
        tokio::time::sleep(Duration::from_millis(if len > 1000 { 300 } else { 0 })).await;
        let reply = conn.response(false).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_length(), Some(len));
        assert_eq!(reply.body, pattern(0, (len / 2) as usize), "len {len}");
        if len > 0 {
            assert!(reply.cut_short, "len {len}");
        }
        assert!(conn.closed().await, "len {len}: connection left open");
    }
}

#[tokio::test]
async fn chunked_sends_the_pattern_in_chunks() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let len = 150_000;
    let reply = conn.exchange(&get(&format!("/chunked/{len}"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert!(reply.content_length().is_none());
    assert_eq!(reply.body, pattern(0, len));
    assert_eq!(
        reply.chunks,
        [
            1, 2, 3, 10, 100, 1000, 4096, 65536, 1, 2, 3, 10, 100, 1000, 4096, 65536, 1, 2, 3, 10,
            100, 1000, 4096, 3292
        ]
    );

    let reply = conn.exchange(&get("/chunked/20?chunk=7")).await;
    assert_eq!(reply.chunks, [7, 7, 6]);
    assert_eq!(reply.body, pattern(0, 20));
    let reply = conn.exchange(&get("/chunked/0")).await;
    assert!(reply.chunks.is_empty() && reply.body.is_empty());
    for bad in ["/chunked/10?chunk=0", "/chunked/10?chunk=65537"] {
        assert_eq!(conn.exchange(&get(bad)).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn pattern_streams_256_mib() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let len: u64 = 256 * 1024 * 1024;
    conn.send(&get(&format!("/pattern/{len}"))).await;
    let reply = conn.head().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_length(), Some(len));
    // Check as it streams in, 256-byte aligned blocks against one period of the pattern.
    let period = pattern(0, 256);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut got = 0u64;
    while got < len {
        let want = buf.len().min((len - got) as usize);
        timeout(T, conn.io.read_exact(&mut buf[..want]))
            .await
            .unwrap()
            .unwrap();
        for block in buf[..want].chunks(256) {
            assert_eq!(block, &period[..block.len()], "at {got}");
        }
        got += want as u64;
    }
    // And the connection is still good for more.
    let reply = conn.exchange(&get("/pattern/10")).await;
    assert_eq!(reply.body, pattern(0, 10));
}

#[tokio::test]
async fn requests_are_recorded_as_sent() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    conn.exchange(&request(
        "GET",
        "/a?b=c&d",
        "User-Agent: ubx\r\nX-Dup: 1\r\nX-Dup: 2\r\n",
        b"",
    ))
    .await;
    conn.exchange(&request(
        "PUT",
        "/up",
        "Content-Type: text/plain\r\n",
        b"12345",
    ))
    .await;
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    let expected = SeenRequest {
        method: "GET".into(),
        path: "/a".into(),
        query: Some("b=c&d".into()),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("host".into(), "127.0.0.1".into()),
            ("user-agent".into(), "ubx".into()),
            ("x-dup".into(), "1".into()),
            ("x-dup".into(), "2".into()),
        ],
        body_len: 0,
        body_complete: true,
    };
    assert_eq!(seen[0], expected);
    assert_eq!(seen[0].target(), "/a?b=c&d");
    assert_eq!(seen[0].header("X-DUP"), Some("1"));
    assert_eq!(seen[0].header_all("x-dup"), ["1", "2"]);
    assert_eq!((seen[1].method.as_str(), seen[1].body_len), ("PUT", 5));
    assert_eq!(seen[1].header("content-length"), Some("5"));
    assert_eq!(seen[1].query, None);

    // An HTTP/1.0 request is recorded as such.
    let mut old = connect(server.addr()).await;
    old.send(b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(old.response(false).await.status, 404);
    assert_eq!(server.requests()[2].version, "HTTP/1.0");
    assert!(server.requests()[2].headers.is_empty());
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_header_injection_attempt_is_one_header_or_refused() {
    let server = HttpServer::start().await.unwrap();
    // A bare CR inside a value: hyper refuses the request, nothing is recorded.
    let reply = once(
        &server,
        b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: v\rEvil: 1\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(server.requests().is_empty());
    // What a test checks for a client that escaped its input properly.
    once(
        &server,
        &request("GET", "/a", "X-A: v%0D%0AEvil: 1\r\n", b""),
    )
    .await;
    let seen = server.requests();
    assert_eq!(seen[0].header("x-a"), Some("v%0D%0AEvil: 1"));
    assert!(seen[0].header("evil").is_none());
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    for i in 0..5 {
        let path = format!("/k{i}");
        let body = pattern(i, 1000 * i as usize);
        assert_eq!(
            conn.exchange(&request("PUT", &path, "", &body))
                .await
                .status,
            201
        );
        assert_eq!(conn.exchange(&get(&path)).await.body, body);
        assert_eq!(
            conn.exchange(&get("/chunked/300")).await.body,
            pattern(0, 300)
        );
        assert_eq!(conn.exchange(&get("/status/503")).await.status, 503);
    }
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests().len(), 20);
    // Connection: close is honoured.
    let reply = conn
        .exchange(&request("GET", "/k1", "Connection: close\r\n", b""))
        .await;
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(conn.closed().await);
}

#[tokio::test]
async fn a_chunked_upload_of_8_mib_is_stored_whole() {
    let server = HttpServer::start().await.unwrap();
    let data = pattern(17, 8 * 1024 * 1024);
    let mut conn = connect(server.addr()).await;
    conn.send(b"PUT /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    for piece in data.chunks(100_000) {
        conn.send(format!("{:x}\r\n", piece.len()).as_bytes()).await;
        conn.send(piece).await;
        conn.send(b"\r\n").await;
    }
    conn.send(b"0\r\n\r\n").await;
    assert_eq!(conn.response(false).await.status, 201);
    assert!(server.file("/big") == Some(data), "stored upload differs");
    let seen = &server.requests()[0];
    assert_eq!((seen.body_len, seen.body_complete), (8 * 1024 * 1024, true));
}

#[tokio::test]
async fn an_upload_over_the_limit_gets_413_and_a_close() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    let head = format!(
        "PUT /huge HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
        MAX_UPLOAD + 1
    );
    conn.send(head.as_bytes()).await;
    let reply = conn.response(false).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(conn.closed().await);
    assert_eq!(server.file("/huge"), None);
    assert!(!server.requests()[0].body_complete);
}

#[tokio::test]
async fn an_upload_broken_off_is_recorded_incomplete_and_not_stored() {
    let server = HttpServer::start().await.unwrap();
    let mut conn = connect(server.addr()).await;
    conn.send(b"PUT /part HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789")
        .await;
    drop(conn);
    let deadline = Instant::now() + T;
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "request never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = &server.requests()[0];
    assert_eq!((seen.body_len, seen.body_complete), (10, false));
    assert_eq!(server.file("/part"), None);
}

fn tls_connector(ca_pem: &str) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn https_with_the_test_ca_by_name_and_by_ip() {
    let server = HttpServer::start_tls().await.unwrap();
    assert!(server.is_tls());
    assert_eq!(server.url("x"), format!("https://{}/x", server.addr()));
    assert_eq!(server.server_names(), ["localhost", "127.0.0.1", "::1"]);
    let ca_pem = server.ca_pem().unwrap();
    let from_pem = CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
    assert_eq!(from_pem.as_ref(), server.ca_der().unwrap());
    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let name = ServerName::try_from(name).unwrap();
        let tls = timeout(T, tls_connector(ca_pem).connect(name, tcp))
            .await
            .unwrap()
            .unwrap();
        let mut conn = Conn::new(tls);
        let body = pattern(0, 100_000);
        assert_eq!(
            conn.exchange(&request("POST", "/s", "", &body)).await.body,
            body
        );
        assert_eq!(
            conn.exchange(&get("/chunked/5000")).await.body,
            pattern(0, 5000)
        );
        let reply = conn.exchange(&get("/truncated/200000")).await;
        assert_eq!(reply.body, pattern(0, 100_000));
        assert!(reply.cut_short);
    }
    assert_eq!(server.connections(), 2);
    // A client that does not trust the test CA fails the handshake.
    let stranger = HttpServer::start_tls().await.unwrap();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let refused = timeout(
        T,
        tls_connector(stranger.ca_pem().unwrap()).connect(name, tcp),
    )
    .await;
    assert!(refused.unwrap().is_err());
}

#[tokio::test]
async fn plain_server_accessors() {
    let server = HttpServer::start().await.unwrap();
    assert!(!server.is_tls());
    assert!(server.ca_pem().is_none() && server.ca_der().is_none());
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.url("/a/b"), format!("http://{}/a/b", server.addr()));
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = HttpServer::start().await.unwrap();
    let addr = server.addr();
    let mut conn = connect(addr).await;
    assert_eq!(conn.exchange(&get("/status/200")).await.status, 200);
    drop(server);
    assert!(conn.closed().await, "open connection survived the drop");
    let deadline = Instant::now() + T;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after the drop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn python_http_server_serves_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(0, 100_000);
    std::fs::write(dir.path().join("file.bin"), &data).unwrap();
    let python = python_http_server(dir.path()).await.unwrap();
    assert!(python.addr().ip().is_loopback() && python.addr().port() != 0);
    assert_eq!(python.dir(), dir.path());
    assert_eq!(
        python.url("file.bin"),
        format!("http://{}/file.bin", python.addr())
    );

    let mut conn = connect(python.addr()).await;
    let reply = conn.exchange(&get("/file.bin")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_length(), Some(100_000));
    assert_eq!(reply.body, data);
    let reply = once_at(python.addr(), &get("/missing")).await;
    assert_eq!(reply.status, 404);
    assert!(
        python.log().contains("\"GET /file.bin HTTP/1.1\" 200"),
        "{}",
        python.log()
    );

    let addr = python.addr();
    drop(python);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "python still serving"
    );
}

async fn once_at(addr: SocketAddr, request: &[u8]) -> Reply {
    connect(addr).await.exchange(request).await
}
