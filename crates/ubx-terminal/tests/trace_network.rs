//! The network side of a trace against real servers (docs/TRACE.md): each TLS handshake on the
//! connection it went over, and with `--trace-data` (`Tracer::record_contents`) the bytes of a
//! user's connections, never those of a service's protocol.

use std::time::Duration;

use serde_json::Value;
use test_servers::{Kind, RunningServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use ubx_modem::{Modem, ModemConfig};
use ubx_terminal::trace::Tracer;

/// A module whose terminal is `host`, traced into `path`.
struct Session {
    host: DuplexStream,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Session {
    fn start(contents: bool) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let tracer = Tracer::create(&path).unwrap();
        if contents {
            tracer.record_contents();
        }
        let modem = Modem::new(ModemConfig::default()).unwrap();
        let (host, device) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let _ = ubx_terminal::driver::serve(&modem, device, Some(&tracer)).await;
        });
        Session {
            host,
            path,
            _dir: dir,
        }
    }

    /// Sends `line` and reads until the answer ends with `end`.
    async fn cmd(&mut self, line: &str, end: &[u8]) -> Vec<u8> {
        self.host
            .write_all(format!("{line}\r").as_bytes())
            .await
            .unwrap();
        self.until(line, end).await
    }

    /// Reads until what came ends with `end` (`what`: for the failure message).
    async fn until(&mut self, what: &str, end: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        tokio::time::timeout(Duration::from_secs(30), async {
            while !got.ends_with(end) {
                let n = self.host.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed; got {got:?}");
                got.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: waited for {end:?}; got {got:?}"));
        got
    }

    async fn login(&mut self, server: &RunningServer) {
        self.cmd(&format!("AT+UFTP=0,\"{}\"", server.addr.ip()), b"OK\r\n")
            .await;
        self.cmd(&format!("AT+UFTP=7,{}", server.addr.port()), b"OK\r\n")
            .await;
        self.cmd(&format!("AT+UFTP=2,\"{}\"", server.user), b"OK\r\n")
            .await;
        self.cmd(&format!("AT+UFTP=3,\"{}\"", server.password), b"OK\r\n")
            .await;
        self.cmd("AT+UFTP=6,1", b"OK\r\n").await;
    }

    /// The trace's records, once every connection's close is in.
    async fn records(&self) -> Vec<Value> {
        for _ in 0..500 {
            let text = std::fs::read_to_string(&self.path).unwrap();
            if text.matches("\"ev\":\"open\"").count() == text.matches("\"ev\":\"close\"").count() {
                return text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a connection never closed");
    }
}

/// The `role` of connection `conn`, from its `open` record.
fn role_of(records: &[Value], conn: &Value) -> String {
    records
        .iter()
        .find(|r| r["k"] == "net" && r["ev"] == "open" && &r["conn"] == conn)
        .map(|r| r["role"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no open of {conn}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tls_handshake_is_recorded_on_its_connection() {
    let options = ServerOptions {
        tls: true,
        ..Default::default()
    };
    let server = test_servers::start(Kind::Vsftpd, options).await.unwrap();
    server.put_file("a.txt", b"over TLS\n").unwrap();
    let mut s = Session::start(true);
    s.login(&server).await;
    // No validation (level 0): the handshake is what is traced, not the checks.
    s.cmd("AT+USECPRF=0,0,0", b"OK\r\n").await;
    s.cmd("AT+UFTP=8,1,0", b"OK\r\n").await;
    // The data connections protected too (PROT P).
    s.cmd("AT+UFTP=12,1,0", b"OK\r\n").await;
    s.cmd("AT+UFTPC=1", b"+UUFTPCR: 1,1\r\n").await;
    s.cmd("AT+UFTPC=4,\"a.txt\",\"a.txt\"", b"+UUFTPCR: 4,1\r\n")
        .await;
    s.cmd("AT+UFTPC=0", b"+UUFTPCR: 0,1\r\n").await;
    let records = s.records().await;
    // With --trace-data: a protected data connection's bytes are TLS records, not the file's,
    // so none are recorded; nor any of the control connection.
    assert!(!records.iter().any(|r| r["ev"] == "data"), "{records:?}");
    let tls: Vec<&Value> = records
        .iter()
        .filter(|r| r["k"] == "net" && r["ev"] == "tls")
        .collect();
    let roles: Vec<String> = tls.iter().map(|r| role_of(&records, &r["conn"])).collect();
    assert_eq!(roles, ["ftp-control", "ftp-data"], "{tls:?}");
    for r in &tls {
        assert!(r["version"].as_str().unwrap().starts_with("TLSv1_"), "{r}");
        assert!(r["suite"].as_str().unwrap().starts_with("TLS"), "{r}");
        assert!(r["resumed"].is_boolean(), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_data_records_ftp_data_and_never_the_control_connection() {
    let server = test_servers::start(Kind::Libunftp, ServerOptions::default())
        .await
        .unwrap();
    let body = b"the file's own bytes\r\n\x00\xff";
    server.put_file("b.bin", body).unwrap();
    for contents in [true, false] {
        let mut s = Session::start(contents);
        s.login(&server).await;
        s.cmd("AT+UFTPC=1", b"+UUFTPCR: 1,1\r\n").await;
        s.cmd("AT+UFTPC=4,\"b.bin\",\"b.bin\"", b"+UUFTPCR: 4,1\r\n")
            .await;
        s.cmd("AT+UFTPC=0", b"+UUFTPCR: 0,1\r\n").await;
        let records = s.records().await;
        let data: Vec<&Value> = records
            .iter()
            .filter(|r| r["k"] == "net" && r["ev"] == "data")
            .collect();
        if !contents {
            assert!(data.is_empty(), "{data:?}");
            continue;
        }
        for r in &data {
            assert_eq!(role_of(&records, &r["conn"]), "ftp-data", "{r}");
        }
        let received: String = data
            .iter()
            .filter(|r| r["dir"] == "in")
            .map(|r| r["data"].as_str().unwrap())
            .collect();
        assert_eq!(received, "the file's own bytes\\r\\n\\x00\\xff");
        assert!(
            !std::fs::read_to_string(&s.path)
                .unwrap()
                .contains(&server.password),
            "the password is in the trace"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_data_records_a_sockets_bytes_each_way() {
    let echo = test_servers::sockets::TcpEcho::start().await.unwrap();
    let mut s = Session::start(true);
    s.cmd("AT+USOCR=6", b"OK\r\n").await;
    let port = echo.addr().port();
    s.cmd(&format!("AT+USOCO=0,\"127.0.0.1\",{port}"), b"OK\r\n")
        .await;
    s.cmd("AT+USOWR=0,5,\"hello\"", b"OK\r\n").await;
    s.until("the echo", b"+UUSORD: 0,5\r\n").await;
    s.cmd("AT+USOCL=0", b"OK\r\n").await;
    let records = s.records().await;
    let data: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["k"] == "net" && r["ev"] == "data")
        .map(|r| (r["dir"].as_str().unwrap(), r["data"].as_str().unwrap()))
        .collect();
    assert_eq!(data, [("out", "hello"), ("in", "hello")]);
}
