//! The HTTP client service (`+UHTTP`, `+UHTTPC`, `+UHTTPER`) against real HTTP servers: Python's
//! `http.server` (a server that is not ours) and test-servers' HTTP server (every method, TLS,
//! faults a test needs). Every expectation is the exact bytes a host sees.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::AtHost;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

/// Python's `http.server` serving `dir` on a free loopback port; killed on drop.
struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    // The child is waited for by `Drop` once it is inside the returned server.
    #[allow(clippy::zombie_processes)]
    async fn start(dir: &std::path::Path) -> PythonServer {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return PythonServer { child, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("python3 -m http.server did not start");
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The module file `name` as `+URDFILE` shows it: its bytes.
async fn file(host: &mut AtHost, name: &str) -> String {
    host.send(&format!("AT+URDFILE=\"{name}\"")).await;
    let text = host.read_until(b"\"\r\nOK\r\n").await;
    let start = text
        .find(&format!("+URDFILE: \"{name}\","))
        .expect("+URDFILE");
    let rest = &text[start + name.len() + 13..];
    let comma = rest.find(',').unwrap();
    rest[comma + 2..rest.len() - 7].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_head_from_python_http_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"hello, module\n").unwrap();
    let server = PythonServer::start(dir.path()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.port)).await;
    host.cmd(
        "AT+UHTTP=0,5",
        format!("\r\n+UHTTP: 0,{}\r\n\r\nOK\r\n", server.port).as_bytes(),
    )
    .await;
    host.ok("AT+UHTTPC=0,1,\"/hello.txt\",\"resp.txt\"").await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,1,1\r\n", 10).await;
    let response = file(&mut host, "resp.txt").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert!(
        response.contains("\r\nContent-Length: 14\r\n"),
        "{response:?}"
    );
    assert!(
        response.ends_with("\r\n\r\nhello, module\n"),
        "{response:?}"
    );
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,0,0\r\n\r\nOK\r\n")
        .await;
    // HEAD: the head alone. A missing file: a completed request whose file holds the 404.
    host.ok("AT+UHTTPC=0,0,\"/hello.txt\",\"head.txt\"").await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,0,1\r\n", 10).await;
    let head = file(&mut host, "head.txt").await;
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head:?}"
    );
    host.ok("AT+UHTTPC=0,1,\"/missing\",\"404.txt\"").await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,1,1\r\n", 10).await;
    assert!(
        file(&mut host, "404.txt")
            .await
            .starts_with("HTTP/1.1 404 Not Found\r\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_failures() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=1").await;
    // LEXI-R10 has profile 0 only.
    for id in 1..4 {
        host.cmd(
            &format!("AT+UHTTP={id},1,\"x.example\""),
            b"\r\n+CME ERROR: 3\r\n",
        )
        .await;
    }
    host.cmd("AT+UHTTP=4,1,\"x.example\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    // No server set: refused, and +UHTTPER says why.
    host.cmd("AT+UHTTPC=0,1,\"/\",\"r.txt\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,1\r\n\r\nOK\r\n")
        .await;
    // CR/LF or control characters never reach a request: a name, a header, a path.
    host.cmd("AT+UHTTP=0,1,\"a\x01b\"", b"\r\n+CME ERROR: 25\r\n")
        .await;
    host.cmd(
        "AT+UHTTP=0,9,\"X-A: 1\x0bX-B: 2\"",
        b"\r\n+CME ERROR: 25\r\n",
    )
    .await;
    host.ok("AT+UHTTP=0,1,\"127.0.0.1\"").await;
    host.cmd(
        "AT+UHTTPC=0,1,\"/a\x7fb\",\"r.txt\"",
        b"\r\n+CME ERROR: 25\r\n",
    )
    .await;
    // A file name that breaks the file system's rules.
    host.cmd(
        "AT+UHTTPC=0,1,\"/\",\"../r.txt\"",
        b"\r\n+CME ERROR: 1613\r\n",
    )
    .await;
    // A refused port: the request fails, no file is left, +UHTTPER says why.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    host.ok(&format!("AT+UHTTP=0,5,{port}")).await;
    host.ok("AT+UHTTPC=0,1,\"/\",\"r.txt\"").await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,1,0\r\n", 10).await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,4\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+URDFILE=\"r.txt\"", b"\r\n+CME ERROR: 1612\r\n")
        .await;
    // Reset to factory: the server is gone again.
    host.ok("AT+UHTTP=0").await;
    host.cmd("AT+UHTTP=0,1", b"\r\n+UHTTP: 0,\"\"\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+UHTTP=0,3", b"\r\n+UHTTP: 0,\"\"\r\n\r\nOK\r\n")
        .await;
}
