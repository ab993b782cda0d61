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

async fn pointed_at(modem: &Modem, server: &test_servers::http::HttpServer) -> AtHost {
    let mut host = AtHost::connect(modem).await;
    host.ok("AT+CMEE=1").await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
    host
}

/// Runs `AT+UHTTPC=...` and expects `+UUHTTPCR: 0,<cmd>,<result>`.
async fn request(host: &mut AtHost, line: &str, cmd: u32, result: u32) {
    host.ok(line).await;
    host.expect_within(
        format!("\r\n+UUHTTPCR: 0,{cmd},{result}\r\n").as_bytes(),
        10,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_against_the_test_server() {
    let server = test_servers::http::HttpServer::start().await.unwrap();
    server.put_file_with_type("/data.json", "application/json", b"{\"a\":1}".to_vec());
    let modem = modem();
    let mut host = pointed_at(&modem, &server).await;
    host.ok("AT+UHTTP=0,9,\"X-Device: ubx\"").await;
    request(&mut host, "AT+UHTTPC=0,1,\"/data.json\",\"get.txt\"", 1, 1).await;
    let get = file(&mut host, "get.txt").await;
    assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "{get:?}");
    assert!(
        get.contains("\r\nContent-Type: application/json\r\n"),
        "{get:?}"
    );
    assert!(get.ends_with("\r\n\r\n{\"a\":1}"), "{get:?}");
    // PUT a module file, POST data, DELETE.
    host.send("AT+UDWNFILE=\"body.bin\",5").await;
    host.expect(b">").await;
    use tokio::io::AsyncWriteExt;
    host.io.write_all(b"12345").await.unwrap();
    host.expect(b"\r\nOK\r\n").await;
    request(
        &mut host,
        "AT+UHTTPC=0,3,\"/up.bin\",\"put.txt\",\"body.bin\",2",
        3,
        1,
    )
    .await;
    assert_eq!(server.file("/up.bin").as_deref(), Some(&b"12345"[..]));
    request(
        &mut host,
        "AT+UHTTPC=0,5,\"/form\",\"post.txt\",\"a=1&b=2\",0",
        5,
        1,
    )
    .await;
    assert_eq!(server.file("/form").as_deref(), Some(&b"a=1&b=2"[..]));
    assert!(
        file(&mut host, "post.txt")
            .await
            .ends_with("\r\n\r\na=1&b=2")
    );
    request(&mut host, "AT+UHTTPC=0,2,\"/up.bin\",\"del.txt\"", 2, 1).await;
    assert!(server.file("/up.bin").is_none());
    // POST of a file as multipart/form-data, wrapped as the module does.
    request(
        &mut host,
        "AT+UHTTPC=0,4,\"/multi\",\"m.txt\",\"body.bin\",3",
        4,
        1,
    )
    .await;
    let multi = String::from_utf8(server.file("/multi").unwrap()).unwrap();
    assert!(
        multi.contains("name=\"file_post\"")
            && multi.contains("\r\n\r\n12345\r\n--U1Blox2Http3Unique4Boundary5--"),
        "{multi:?}"
    );
    // What the server saw: the Host, the custom header, the content types.
    let seen = server.requests();
    let put = seen.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        put.header("host"),
        Some(format!("127.0.0.1:{}", server.addr().port()).as_str())
    );
    assert_eq!(put.header("x-device"), Some("ubx"));
    assert_eq!(put.header("content-type"), Some("application/octet-stream"));
    assert_eq!(put.header("content-length"), Some("5"));
    let form = seen.iter().find(|r| r.path == "/form").unwrap();
    assert_eq!(
        form.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // A redirect is a response, not followed; an error status is a response too.
    request(
        &mut host,
        "AT+UHTTPC=0,1,\"/redirect?to=/data.json\",\"r.txt\"",
        1,
        1,
    )
    .await;
    assert!(
        file(&mut host, "r.txt")
            .await
            .starts_with("HTTP/1.1 302 Found\r\n")
    );
    request(&mut host, "AT+UHTTPC=0,1,\"/status/503\",\"s.txt\"", 1, 1).await;
    assert!(file(&mut host, "s.txt").await.starts_with("HTTP/1.1 503 "));
    // A body cut short: the request fails, no file is left, +UHTTPER says the connection broke.
    request(
        &mut host,
        "AT+UHTTPC=0,1,\"/truncated/100000\",\"t.txt\"",
        1,
        0,
    )
    .await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,7\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+URDFILE=\"t.txt\"", b"\r\n+CME ERROR: 1612\r\n")
        .await;
    // A chunked body arrives whole.
    request(&mut host, "AT+UHTTPC=0,1,\"/chunked/5000\",\"c.txt\"", 1, 1).await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,0,0\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_follows_the_security_profile() {
    let server = test_servers::http::HttpServer::start_tls().await.unwrap();
    server.put_file("/secret.txt", b"ok".to_vec());
    // A name the certificate does not carry, resolved to the server (as --dns does).
    let modem = Modem::new(ModemConfig {
        dns_overrides: vec![("other.example".into(), "127.0.0.1".parse().unwrap())],
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=1").await;
    let ca = server.ca_pem().unwrap().to_string();
    host.send(&format!("AT+USECMNG=0,0,\"ca\",{}", ca.len()))
        .await;
    host.expect(b">").await;
    use tokio::io::AsyncWriteExt;
    host.io.write_all(ca.as_bytes()).await.unwrap();
    let imported = host.urc_line(5).await;
    assert!(imported.starts_with("+USECMNG: 0,0,\"ca\","), "{imported}");
    host.expect(b"\r\nOK\r\n").await;
    // Profile 0: chain and host name checked against "ca". Profile 1: a root that is not it.
    host.ok("AT+USECPRF=0,0,2").await;
    host.ok("AT+USECPRF=0,3,\"ca\"").await;
    host.ok("AT+USECPRF=1,0,1").await;
    host.ok("AT+USECPRF=1,3,\"other\"").await;
    host.ok("AT+UHTTP=0,1,\"localhost\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
    host.ok("AT+UHTTP=0,6,1,0").await;
    host.cmd("AT+UHTTP=0,6", b"\r\n+UHTTP: 0,1,0\r\n\r\nOK\r\n")
        .await;
    request(&mut host, "AT+UHTTPC=0,1,\"/secret.txt\",\"s.txt\"", 1, 1).await;
    assert!(file(&mut host, "s.txt").await.ends_with("\r\n\r\nok"));
    // A foreign root: refused, +UHTTPER says TLS.
    host.ok("AT+UHTTP=0,6,1,1").await;
    request(&mut host, "AT+UHTTPC=0,1,\"/secret.txt\",\"f.txt\"", 1, 0).await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,5\r\n\r\nOK\r\n")
        .await;
    // Another host name than the certificate's (level 2 checks it).
    host.ok("AT+UHTTP=0,6,1,0").await;
    host.ok("AT+UHTTP=0,1,\"other.example\"").await;
    request(&mut host, "AT+UHTTPC=0,1,\"/secret.txt\",\"n.txt\"", 1, 0).await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,5\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_fault_mid_body_ends_with_the_documented_error() {
    use ubx_modem::field::spec::{Action, FaultSpec, Target};
    let server = test_servers::http::HttpServer::start().await.unwrap();
    let modem = modem();
    let mut host = pointed_at(&modem, &server).await;
    // HTTP's connections are the module's own: `socket` faults act on them.
    let spec = FaultSpec {
        target: Some(Target::Socket),
        action: Some(Action::Reset),
        after_bytes: Some(200_000),
        ..FaultSpec::default()
    };
    modem
        .field()
        .faults
        .add(spec.validate(modem.max_cid()).expect("valid fault"));
    request(
        &mut host,
        "AT+UHTTPC=0,1,\"/pattern/1000000\",\"big.bin\"",
        1,
        0,
    )
    .await;
    host.cmd("AT+UHTTPER=0", b"\r\n+UHTTPER: 0,1,7\r\n\r\nOK\r\n")
        .await;
    // Nothing half-written is left under the name.
    host.cmd("AT+URDFILE=\"big.bin\"", b"\r\n+CME ERROR: 1612\r\n")
        .await;
    // The next request, with the fault spent, completes.
    request(
        &mut host,
        "AT+UHTTPC=0,1,\"/pattern/1000\",\"small.bin\"",
        1,
        1,
    )
    .await;
}

/// HTTP's direct link (op 6) toward a UART at 9600 baud rides the same data link as FTP's: `+++`
/// ends it with little more than the guard time's bytes (less than `HOST_WINDOW` wait for the
/// line), and the result is the host's leaving, not a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_toward_a_9600_baud_uart_ends_after_a_few_kib() {
    let server = test_servers::http::HttpServer::start().await.unwrap();
    let modem = modem();
    let mut host = common::paced_host(&modem, 9600).await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
    host.send("AT+UHTTPC=0,6,\"/pattern/100000\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUHTTPCR: 0,6,0\r\n";
    let (got, after) = host.escape_mid_stream(tail, 30).await;
    let bound = common::AFTER_ESCAPE_AT_9600;
    assert!(
        after <= bound,
        "{after} bytes after the escape (at most {bound})"
    );
    assert!(
        got == test_servers::http::pattern(0, got.len()),
        "a clean prefix of the body"
    );
}
