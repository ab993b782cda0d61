//! The control API serves the `--trace` file live (docs/TRACE.md, "Live"): `GET /trace?since=T`
//! answers the records past T, `follow=1` keeps the answer open with the records written after,
//! under the same token and the same cap on streams as docs/SECURITY.md says.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Server, http};

/// Sends `line` on a new terminal at `addr` and reads until `OK`.
fn at(addr: &str, line: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("{line}\r").as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    while !got.ends_with(b"OK\r\n") {
        let n = s.read(&mut b).expect("the terminal did not answer");
        assert!(n > 0, "terminal closed: {got:?}");
        got.extend_from_slice(&b[..n]);
    }
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The JSON lines of a `/trace` answer.
fn records(body: &str) -> Vec<serde_json::Value> {
    dechunk(body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `GET PATH` with the token, the connection left open: the stream, and what came of the
/// answer so far (its head, and any of the body that came with it).
fn open_stream(server: &Server, path: &str) -> (TcpStream, String) {
    let addr = server.control_addr();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        server.token()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut got = String::new();
    read_until(&mut s, &mut got, "\r\n\r\n");
    (s, got)
}

/// Reads `s` into `got` (what came before included) until it holds `needle`, within 10 s.
fn read_until(s: &mut TcpStream, got: &mut String, needle: &str) {
    let mut b = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in {got:?}");
        match s.read(&mut b) {
            Ok(0) => panic!("closed: {got:?}"),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&b[..n])),
            Err(_) => {}
        }
    }
}

fn start(dir: &tempfile::TempDir) -> Server {
    let file = dir.path().join("t.jsonl");
    Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--trace",
            file.to_str().unwrap(),
        ],
        3,
    )
}

#[test]
fn get_trace_answers_the_records_past_since_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let tcp = server.line_with("tcp://");
    at(&tcp, "AT");
    let addr = server.control_addr();
    let get = |path: &str| {
        http(
            &addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
                 Connection: close\r\n\r\n",
                server.token()
            ),
        )
    };
    // The terminal's last record, its disconnect, is written as it closes: after `at` returned.
    let deadline = Instant::now() + Duration::from_secs(10);
    let all = loop {
        let (status, body) = get("/trace?since=0");
        assert_eq!(status, 200, "{body}");
        let all = records(&body);
        if all.iter().any(|r| r["ev"] == "disconnect") {
            break all;
        }
        assert!(Instant::now() < deadline, "no disconnect: {all:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(all[0]["k"], "trace", "{all:?}");
    assert!(
        all.iter().any(|r| r["k"] == "io" && r["data"] == "AT\\r"),
        "{all:?}"
    );
    // Past the last record's time: the header alone.
    let last = all.iter().filter_map(|r| r["t"].as_u64()).max().unwrap();
    let (_, body) = get(&format!("/modems/0/trace?since={last}"));
    let later = records(&body);
    assert_eq!(later.len(), 1, "{later:?}");
    let (status, body) = get("/trace?since=soon");
    assert_eq!(status, 400, "{body}");
    // No token: refused, as every route.
    let (status, _) = http(
        &addr,
        &format!("GET /trace?since=0 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 401);
    // Another Origin: refused.
    let (status, _) = http(
        &addr,
        &format!(
            "GET /trace HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\n\
             Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
            server.token()
        ),
    );
    assert_eq!(status, 403);
}

#[test]
fn a_follow_stream_receives_records_written_after_it_opened_and_streams_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let tcp = server.line_with("tcp://");
    at(&tcp, "AT");
    let (mut stream, mut got) = open_stream(&server, "/trace?since=0&follow=1");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.contains("application/x-ndjson"), "{got}");
    read_until(&mut stream, &mut got, "AT\\\\r\\\\r\\\\nOK");
    at(&tcp, "AT+CGMI");
    read_until(&mut stream, &mut got, "AT+CGMI\\\\r\\\\r\\\\nu-blox");
    // Three more streams fill the cap; a fifth is refused; closing one makes room.
    let more: Vec<TcpStream> = (0..3)
        .map(|_| open_stream(&server, "/trace?follow=1").0)
        .collect();
    let (_, head) = open_stream(&server, "/trace?follow=1");
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    drop(more);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, head) = open_stream(&server, "/trace?since=0");
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no room after closing: {head}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_page_is_served_without_the_token_and_its_rows_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let tcp = server.line_with("tcp://");
    at(&tcp, "AT+CGMI");
    let addr = server.control_addr();
    // A browser's navigation: no token. The page holds no record, only where to fetch them.
    let answer = {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(
            format!("GET /view HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        String::from_utf8_lossy(&got).into_owned()
    };
    let (head, page) = answer.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'sha256-"),
        "{head}"
    );
    assert!(head.contains("connect-src 'self'"), "{head}");
    assert!(
        page.contains(r#""live":{"since":0,"url":"/trace/rows"}"#),
        "{page:.300}"
    );
    assert!(!page.contains("CGMI"));
    // Another origin's page, or another Host, still cannot have it.
    let (status, _) = http(
        &addr,
        "GET /view HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);
    // The rows: the token, as every route; then the header and one row per record.
    let (status, _) = http(
        &addr,
        &format!("GET /trace/rows HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 401);
    // Once the terminal's disconnect, written as it closes, is in.
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let (status, body) = http(
            &addr,
            &format!(
                "GET /modems/0/trace/rows?since=0 HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
                server.token()
            ),
        );
        assert_eq!(status, 200, "{body}");
        let rows = records(&body);
        let closed = |r: &serde_json::Value| {
            r[3] == "term" && r[7].as_str().is_some_and(|t| t.starts_with("disconnect"))
        };
        if rows.iter().any(closed) {
            break rows;
        }
        assert!(Instant::now() < deadline, "no disconnect: {rows:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        rows[0]["tool"].as_str().unwrap().starts_with("ubxftp"),
        "{rows:?}"
    );
    let row = |kind: &str, text: &str| {
        rows.iter()
            .any(|r| r[3] == kind && r[7].as_str().is_some_and(|t| t.contains(text)))
    };
    assert!(row("cmd", "AT+CGMI\\r"), "{rows:?}");
    assert!(row("result", "u-blox"), "{rows:?}");
    assert!(
        rows.iter()
            .skip(1)
            .all(|r| r.as_array().is_some_and(|a| a.len() == 8))
    );
}
