//! Record and replay: a session with `ubxftp serve --trace` against a real FTP server, turned
//! into a transcript by `ubxftp trace to-transcript`, runs green under `ubxftp script` against
//! the same build (docs/TRACE.md).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::{Duration, Instant};

use support::Server;

/// Reads until the bytes end with `end`.
fn read_until(r: &mut impl Read, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !got.ends_with(end) {
        assert!(Instant::now() < deadline, "waited for {end:?}; got {got:?}");
        match r.read(&mut buf) {
            Ok(0) => panic!("closed; got {:?}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    got
}

fn ubxftp(args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn shown(out: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Logs in, stores, lists, retrieves and logs out, as a driver would.
fn session(t: &mut TcpStream, ftp: &test_servers::RunningServer) {
    fn cmd(t: &mut TcpStream, line: &str, end: &[u8]) -> Vec<u8> {
        t.write_all(format!("{line}\r").as_bytes()).unwrap();
        read_until(t, end)
    }
    cmd(t, "AT+CMEE=2", b"OK\r\n");
    cmd(t, &format!("AT+UFTP=0,\"{}\"", ftp.addr.ip()), b"OK\r\n");
    cmd(t, &format!("AT+UFTP=7,{}", ftp.addr.port()), b"OK\r\n");
    cmd(t, &format!("AT+UFTP=2,\"{}\"", ftp.user), b"OK\r\n");
    cmd(t, &format!("AT+UFTP=3,\"{}\"", ftp.password), b"OK\r\n");
    cmd(t, "AT+CGAUTH=1,1,\"user\",\"pdp-pw\"", b"OK\r\n");
    cmd(t, "AT+UFTPC=1", b"+UUFTPCR: 1,1\r\n");
    cmd(t, "AT+UDWNFILE=\"a.txt\",11", b">");
    // A driver that waits before its payload: the pause is in the trace and in the replay.
    std::thread::sleep(Duration::from_millis(300));
    t.write_all(b"hello world").unwrap();
    read_until(t, b"OK\r\n");
    cmd(t, "AT+UFTPC=5,\"a.txt\",\"a.txt\"", b"+UUFTPCR: 5,1\r\n");
    let listing = cmd(t, "AT+UFTPC=13", b"+UUFTPCR: 13,1\r\n");
    assert!(
        String::from_utf8_lossy(&listing).contains("a.txt"),
        "{listing:?}"
    );
    cmd(t, "AT+UFTPC=4,\"a.txt\",\"b.txt\"", b"+UUFTPCR: 4,1\r\n");
    cmd(t, "AT+URDFILE=\"b.txt\"", b"OK\r\n");
    cmd(t, "AT+CCLK?", b"OK\r\n");
    cmd(t, "AT+CGSN", b"OK\r\n");
    cmd(t, "AT+UFTPC=0", b"+UUFTPCR: 0,1\r\n");
}

#[test]
fn a_recorded_ftp_session_replays_green() {
    let ftp = test_servers::start_blocking(
        test_servers::Kind::Libunftp,
        test_servers::ServerOptions::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("session.jsonl");
    let server = Server::start(
        &["--tcp", "127.0.0.1:0", "--trace", trace.to_str().unwrap()],
        1,
    );
    let mut t = TcpStream::connect(server.line_with("tcp://")).unwrap();
    session(&mut t, &ftp);
    drop(t);
    // The terminal's disconnect is recorded as it closes; a connection's close is recorded
    // when the service lets go of it, which may be just after the URC the host saw.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&trace).unwrap();
        let opens = text.matches("\"ev\":\"open\"").count();
        let closes = text.matches("\"ev\":\"close\"").count();
        if text.contains("\"disconnect\"") && opens == closes {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no disconnect record, or {opens} opens for {closes} closes:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for r in &records {
        let data = r["data"].as_str().unwrap_or_default();
        let text = r["text"].as_str().unwrap_or_default();
        assert!(
            !data.contains("\"secret\"") && !data.contains("pdp-pw") && !text.contains("secret"),
            "a secret in {r}"
        );
    }
    let kinds = |k: &str, ev: &str| {
        records
            .iter()
            .filter(|r| r["k"] == k && (ev.is_empty() || r["ev"] == ev || r["dir"] == ev))
            .count()
    };
    assert!(kinds("ftp", "sent") >= 5 && kinds("ftp", "received") >= 5);
    assert!(
        records
            .iter()
            .any(|r| r["k"] == "ftp" && r["text"] == "PASS ****")
    );
    // The control connection and the data connections of STOR, LIST and RETR.
    assert!(kinds("net", "open") >= 4, "{records:#?}");
    assert_eq!(kinds("net", "open"), kinds("net", "close"));

    let transcript = dir.path().join("session.txt");
    let out = ubxftp(
        &[
            "trace",
            "to-transcript",
            trace.to_str().unwrap(),
            "-o",
            transcript.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", shown(&out));
    let text = std::fs::read_to_string(&transcript).unwrap();
    for want in [
        "# model: lexi-r10\n",
        "# ftp-server: libunftp\n",
        "> AT+UFTP=7,{ftp-port}\n",
        "> AT+UFTP=3,\"{ftp-password}\"\n",
        "> AT+CGAUTH=1,1,\"user\",\"{secret:pdp-password}\"\n",
        "sleep 3",
        ">> hello world\n",
        "\\+UUFTPCD: 13,\\d+,\"",
        "\\d{15}",
        "#   [",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }

    let script = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["script", transcript.to_str().unwrap()];
        args.extend_from_slice(extra);
        ubxftp(&args, env)
    };
    // The secret must be given: refused, naming where its value comes from.
    let out = script(&[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(
        shown(&out).contains("--secret pdp-password=VALUE"),
        "{}",
        shown(&out)
    );
    let out = script(&["--secret", "pdp-password=pdp-pw"], &[]);
    assert!(out.status.success(), "{}\n{text}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
    let out = script(&[], &[("UBXFTP_SECRET_PDP_PASSWORD", "pdp-pw")]);
    assert!(out.status.success(), "{}", shown(&out));
    // Kept for a look: the transcript as converted.
    if let Ok(keep) = std::env::var("UBXFTP_KEEP_TRANSCRIPT") {
        let _ = std::fs::copy(&transcript, keep);
    }
}

#[test]
fn to_transcript_refuses_what_is_not_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.jsonl");
    std::fs::write(
        &file,
        "{\"unix_us\":1,\"term\":1,\"dir\":\"in\",\"data\":\"AT\\r\"}\n",
    )
    .unwrap();
    let out = ubxftp(&["trace", "to-transcript", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(
        shown(&out).contains("not a trace header"),
        "{}",
        shown(&out)
    );
    let out = ubxftp(
        &[
            "trace",
            "to-transcript",
            file.to_str().unwrap(),
            "--exact",
            "dates",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(shown(&out).contains("--exact dates"), "{}", shown(&out));
}
