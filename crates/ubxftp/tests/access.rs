//! Who may drive a module (docs/SECURITY.md), tried with real processes and sockets: terminals
//! on the network only when asked for, the control API's token, the requests a browser could
//! forge, the bounds on control clients and on faults, and `ctl`'s own limits.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Server, http};

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// `ubxftp ARGS` with its stdout read line by line and its stderr gathered by a thread.
struct Watched {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
    err: std::sync::mpsc::Receiver<String>,
}

impl Watched {
    fn start(args: &[&str], runtime_dir: &std::path::Path) -> Watched {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        Watched {
            child,
            out,
            err: rx,
        }
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        l.trim().to_string()
    }

    /// The first stderr line that contains `needle`, within 5 s.
    fn warning(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.err.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no stderr line with {needle:?}");
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `AT` on a terminal at `addr` and expects `OK` within 5 s.
fn at_ok(addr: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"AT\r\n").unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 64];
    while !got.ends_with(b"OK\r\n") {
        let n = s.read(&mut b).expect("the terminal did not answer AT");
        assert!(n > 0, "terminal closed: {got:?}");
        got.extend_from_slice(&b[..n]);
    }
}

/// A request to the API at `addr` with these extra header lines (each ending in CRLF).
fn request(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    http(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn terminals_on_the_network_need_tcp_remote_and_say_so() {
    let err = support::refused("serve", &["--tcp", "0.0.0.0:0"]);
    assert!(
        err.contains("not a loopback address") && err.contains("--tcp-remote"),
        "{err}"
    );
    let err = support::refused("fleet", &["--count", "2", "--tcp", "0.0.0.0:39100"]);
    assert!(err.contains("--tcp-remote"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watched::start(&["serve", "--tcp", "0.0.0.0:0", "--tcp-remote"], dir.path());
    let addr = w.line();
    let warning = w.warning("warning: --tcp 0.0.0.0:0");
    assert!(
        warning.contains("AT terminals are reachable from the network"),
        "{warning}"
    );
    let port = addr.rsplit_once(':').unwrap().1;
    at_ok(&format!("127.0.0.1:{port}"));
    // Loopback needs no flag and prints no warning.
    let server = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    at_ok(&server.line_with("tcp://"));
}

#[test]
fn the_control_api_needs_its_token_and_ctl_finds_it() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let addr = server.control_addr();
    let port = addr.rsplit_once(':').unwrap().1;
    // The token file is named by the port, in the runtime folder, the owner's alone.
    let file = server.line_with("control token: ");
    assert_eq!(
        std::path::Path::new(&file),
        server
            .runtime_dir
            .path()
            .join(format!("ubxftp-control-{port}.token"))
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = server.token();
    assert_eq!(token.len(), 64);
    assert!(server.lines.iter().all(|l| !l.contains(&token)));
    // No token, a wrong one of the same length, another scheme: 401. The right one: 200.
    let host = format!("Host: {addr}\r\n");
    let wrong = format!(
        "{}{}",
        &token[..63],
        if token.ends_with('0') { '1' } else { '0' }
    );
    for auth in [
        String::new(),
        format!("Authorization: Bearer {wrong}\r\n"),
        format!("Authorization: Basic {token}\r\n"),
    ] {
        let (status, body) = request(&addr, "GET", "/state", &format!("{host}{auth}"), "");
        assert_eq!(status, 401, "{auth}: {body}");
        assert!(body.contains("Authorization: Bearer"), "{body}");
    }
    let auth = format!("{host}Authorization: Bearer {token}\r\n");
    assert_eq!(request(&addr, "GET", "/state", &auth, "").0, 200);
    // ctl: the default file of the URL's port, then UBXFTP_CONTROL_TOKEN before it, then
    // --token-file before both.
    let url = format!("http://{addr}");
    assert!(server.ubxftp(&["ctl", &url, "state"]).status.success());
    let run = |env: Option<&str>, runtime: &std::path::Path, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ubxftp"));
        cmd.arg("ctl")
            .args(extra)
            .args([url.as_str(), "state"])
            .env("XDG_RUNTIME_DIR", runtime)
            .env_remove("UBXFTP_CONTROL_TOKEN");
        if let Some(v) = env {
            cmd.env("UBXFTP_CONTROL_TOKEN", v);
        }
        cmd.output().unwrap()
    };
    let here = server.runtime_dir.path();
    let out = run(Some(&wrong), here, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    assert!(run(Some(&token), here, &[]).status.success());
    assert!(
        run(Some(&wrong), here, &["--token-file", &file])
            .status
            .success()
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(None, elsewhere.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("401") && err.contains("--token-file"),
        "{err}"
    );
    // A clean stop takes the token file with it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(server.child.wait().unwrap().success());
    assert!(!std::path::Path::new(&file).exists());
}

#[test]
fn a_given_token_file_or_no_token_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "correct-horse-battery-staple\n").unwrap();
    let server = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--control-token-file",
            path(&file),
        ],
        3,
    );
    assert_eq!(server.line_with("control token: "), path(&file));
    assert_eq!(server.token(), "correct-horse-battery-staple");
    assert_eq!(server.api("GET", "/link", None).0, 200);
    std::fs::write(&file, "short").unwrap();
    let err = support::refused(
        "serve",
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--control-token-file",
            path(&file),
        ],
    );
    assert!(err.contains("too short"), "{err}");
    // Today's behaviour, asked for by name, on loopback only, with a warning.
    let mut w = Watched::start(
        &[
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--control-no-auth",
        ],
        dir.path(),
    );
    w.line();
    let addr = w
        .line()
        .strip_prefix("control: http://")
        .unwrap()
        .to_string();
    assert!(w.warning("--control-no-auth").contains("has no token"));
    let (status, _) = request(&addr, "GET", "/state", &format!("Host: {addr}\r\n"), "");
    assert_eq!(status, 200);
    let err = support::refused(
        "serve",
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "0.0.0.0:0",
            "--control-remote",
            "--control-no-auth",
        ],
    );
    assert!(err.contains("--control-no-auth"), "{err}");
}

#[test]
fn a_control_api_on_the_network_says_so_and_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Watched::start(
        &[
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "0.0.0.0:0",
            "--control-remote",
            "--control-host",
            "modem-7.lab",
        ],
        dir.path(),
    );
    w.line();
    let addr = w
        .line()
        .strip_prefix("control: http://")
        .unwrap()
        .to_string();
    let file = w
        .line()
        .strip_prefix("control token: ")
        .unwrap()
        .to_string();
    let warning = w.warning("warning: --control 0.0.0.0:0");
    assert!(warning.contains("reachable from the network"), "{warning}");
    let port = addr.rsplit_once(':').unwrap().1;
    let token = std::fs::read_to_string(file).unwrap().trim().to_string();
    let local = format!("127.0.0.1:{port}");
    for (host, want) in [
        (format!("127.0.0.1:{port}"), 200),
        (format!("modem-7.lab:{port}"), 200),
        (format!("evil.example:{port}"), 403),
    ] {
        let headers = format!("Host: {host}\r\nAuthorization: Bearer {token}\r\n");
        assert_eq!(
            request(&local, "GET", "/link", &headers, "").0,
            want,
            "{host}"
        );
    }
    let (status, _) = request(&local, "GET", "/link", &format!("Host: {local}\r\n"), "");
    assert_eq!(status, 401);
}

#[test]
fn requests_a_browser_could_forge_are_refused() {
    // The issue's probe: text/plain, a foreign Origin, any Host. Even with no token it fails.
    let open = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--control-no-auth",
        ],
        2,
    );
    let addr = open.control_addr();
    let fault = r#"{"target": "module", "action": "reboot"}"#;
    let (status, body) = request(
        &addr,
        "POST",
        "/faults",
        "Host: evil.example\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n",
        fault,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("evil.example"), "{body}");
    // A DNS name rebound to 127.0.0.1: the browser sends the name.
    let (status, _) = request(
        &addr,
        "GET",
        "/state",
        &format!(
            "Host: rebound.example:{}\r\n",
            addr.rsplit_once(':').unwrap().1
        ),
        "",
    );
    assert_eq!(status, 403);
    // The right Host, but from another origin.
    let (status, body) = request(
        &addr,
        "POST",
        "/faults",
        &format!(
            "Host: {addr}\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\n"
        ),
        fault,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cross-origin"), "{body}");
    // The right Host, a body that is not JSON by its type: 415, and no fault set.
    for ct in ["Content-Type: text/plain\r\n", ""] {
        let (status, body) = request(
            &addr,
            "POST",
            "/faults",
            &format!("Host: {addr}\r\n{ct}"),
            fault,
        );
        assert_eq!(status, 415, "{ct}: {body}");
    }
    let (status, _) = request(
        &addr,
        "PUT",
        "/link",
        &format!("Host: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
        "link=lte-m",
    );
    assert_eq!(status, 415);
    let (status, body) = request(&addr, "GET", "/faults", &format!("Host: {addr}\r\n"), "");
    assert_eq!((status, body.as_str()), (200, "[]"));
    // With the token too: the Host is checked first.
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let addr = server.control_addr();
    let auth = format!("Authorization: Bearer {}\r\n", server.token());
    let (status, _) = request(
        &addr,
        "GET",
        "/state",
        &format!("Host: evil.example\r\n{auth}"),
        "",
    );
    assert_eq!(status, 403);
    let (status, _) = request(
        &addr,
        "POST",
        "/faults",
        &format!(
            "Host: localhost:{}\r\n{auth}Content-Type: text/plain\r\n",
            addr.rsplit_once(':').unwrap().1
        ),
        r#"{"target": "dns", "action": "fail"}"#,
    );
    assert_eq!(status, 415);
    let (status, _) = request(
        &addr,
        "POST",
        "/faults",
        &format!("Host: {addr}\r\n{auth}Content-Type: application/json; charset=utf-8\r\n"),
        r#"{"target": "dns", "action": "fail"}"#,
    );
    assert_eq!(status, 201);
}

#[test]
fn ctl_times_out_refuses_https_and_takes_host_port() {
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let addr = server.control_addr();
    // HOST:PORT without http://.
    let out = server.ubxftp(&["ctl", &addr, "link", "lte-m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server.ubxftp(&["ctl", &format!("https://{addr}"), "state"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("https is not supported"),
        "{err}"
    );
    // A port that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let out = server.ubxftp(&["ctl", "--timeout", "1s", &silent_addr, "state"]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no answer within 1 s"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn put_link_refuses_unknown_fields_and_quotes_a_short_prefix() {
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let (status, answer) = server.api("PUT", "/link", Some(r#"{"link": "lte-m", "lossy": 1}"#));
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("unknown field \"lossy\""),
        "{answer}"
    );
    let long = format!("down={}", "9".repeat(60_000));
    for body in [
        serde_json::json!({ "link": long }).to_string(),
        serde_json::json!(long).to_string(),
        serde_json::json!({ long.clone(): "lte-m" }).to_string(),
    ] {
        let (status, answer) = server.api("PUT", "/link", Some(&body));
        assert_eq!(status, 400, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.len() < 200, "{} bytes: {error}", error.len());
    }
    // Larger than any request: refused on its length, before a byte of it is read.
    let addr = server.control_addr();
    let (status, _) = http(
        &addr,
        &format!(
            "PUT /link HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            server.token(),
            2 << 20
        ),
    );
    assert_eq!(status, 413);
    // The plain spec still works, as JSON.
    let (status, answer) = server.api("PUT", "/link", Some(r#""down=1mbit,rtt=100ms""#));
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn faults_are_capped_per_module_and_per_fleet_and_the_terminals_answer_through_a_flood() {
    let fault = r#"{"target": "dns", "action": "fail", "at_ms": 600000}"#;
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    for n in 1..=256 {
        let (status, answer) = server.api("POST", "/faults", Some(fault));
        assert_eq!(status, 201, "fault {n}: {answer}");
    }
    let (status, answer) = server.api("POST", "/faults", Some(fault));
    assert_eq!(status, 429);
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("module 0 holds 256 faults"), "{error}");
    assert_eq!(server.api("DELETE", "/faults", None).0, 204);
    assert_eq!(server.api("POST", "/faults", Some(fault)).0, 201);
    // A fleet: 400 modules, "all" 250 times is 100 000 faults, the most; one more is refused
    // whole, and no module got it.
    let base = free_base(400);
    let fleet = Server::start_with(
        "fleet",
        &[
            "--count",
            "400",
            "--tcp",
            &format!("127.0.0.1:{base}"),
            "--control",
            "127.0.0.1:0",
        ],
        3,
    );
    let all = r#"{"modems": "all", "target": "dns", "action": "fail", "at_ms": 600000}"#;
    for n in 1..=250 {
        let (status, answer) = fleet.api("POST", "/fleet/faults", Some(all));
        assert_eq!(status, 201, "round {n}: {}", answer["error"]);
    }
    let (status, answer) = fleet.api("POST", "/fleet/faults", Some(all));
    assert_eq!(status, 429);
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("100000"), "{error}");
    let (_, faults) = fleet.api("GET", "/modems/399/faults", None);
    assert_eq!(faults.as_array().unwrap().len(), 250);
    // The flood goes on past the cap, from four clients at once, and the terminals keep
    // answering during it and after it (the figures are a benchmark's: fault_flood).
    let terminal = format!("127.0.0.1:{base}");
    let (addr, token) = (fleet.control_addr(), fleet.token());
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let auth = format!(
                    "Host: {addr}\r\nAuthorization: Bearer {token}\r\n\
                     Content-Type: application/json\r\n"
                );
                (0..100)
                    .filter(|_| request(&addr, "POST", "/fleet/faults", &auth, all).0 == 429)
                    .count()
            })
        })
        .collect();
    while !flooders.iter().all(|f| f.is_finished()) {
        at_ok(&terminal);
    }
    for f in flooders {
        assert_eq!(f.join().unwrap(), 100);
    }
    at_ok(&terminal);
    at_ok(&format!("127.0.0.1:{}", base + 399));
    assert_eq!(fleet.api("DELETE", "/fleet/faults", None).0, 204);
    assert_eq!(fleet.api("POST", "/fleet/faults", Some(all)).0, 201);
}

/// Ports BASE..BASE+n, all free now.
fn free_base(n: u16) -> u16 {
    let mut base = 40000 + (std::process::id() % 500) as u16 * 10;
    loop {
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
        base += n;
    }
}

/// The slowloris probe, sized from the module's own descriptor limit: four times as many silent
/// connections to the control port as the process may open files. The terminals keep answering
/// during it and after it; the silent and the dribbling clients are closed at the header timeout.
#[test]
fn slow_and_many_control_clients_do_not_starve_the_terminals() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const MODULE_FILES: u64 = 256;
    // This test process holds the probe's sockets: raise its own soft limit if it can, and
    // keep the probe within it (Debian's default of 1024 still gives 3.5 times the module's).
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = (4 * MODULE_FILES + 256).min(hard);
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
    }
    let probe = (4 * MODULE_FILES).min(want.max(soft) - 128) as usize;
    let server = Server::start_limited(
        "serve",
        &["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"],
        3,
        Some(MODULE_FILES),
    );
    let terminal = server.line_with("tcp://");
    let addr = server.control_addr();
    at_ok(&terminal);
    // A client that sends its headers a byte a second.
    let dribble_addr = addr.clone();
    let dribbler = std::thread::spawn(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(&dribble_addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let head = b"GET /state HTTP/1.1\r\nX-Slow: ";
        let mut b = [0u8; 256];
        for i in 0.. {
            if s.write_all(&[head.get(i).copied().unwrap_or(b'a')])
                .is_err()
                || started.elapsed() > Duration::from_secs(30)
            {
                break;
            }
            match s.read(&mut b) {
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                // Closed, reset or answered.
                _ => break,
            }
        }
        started.elapsed()
    });
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..probe {
        match TcpStream::connect(&addr) {
            Ok(s) => silent.push(s),
            Err(e) => panic!("connect {}: {e}", silent.len()),
        }
    }
    // During the flood: the terminals answer, a new terminal connects, the API says it is busy.
    at_ok(&terminal);
    at_ok(&terminal);
    let busy = busy_answer(&addr);
    assert!(
        busy.starts_with("HTTP/1.1 503") && busy.contains("too many control connections"),
        "{busy}"
    );
    // Past the cap, a connection is answered 503 at once; the held ones (at most the cap, the
    // dribbler one of them) are closed at the header timeout, 10 s, with no answer.
    let (mut held, mut refused) = (0, 0);
    for s in &mut silent {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut answer = Vec::new();
        if let Err(e) = s.read_to_end(&mut answer) {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a silent connection still open after 15 s"
            );
        }
        if answer.starts_with(b"HTTP/1.1 503") {
            refused += 1;
        } else {
            assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
            held += 1;
        }
    }
    let took = started.elapsed();
    assert!(held <= 63 && held > 0, "{held} held, {refused} refused");
    assert_eq!(held + refused, probe);
    // 10 s and the time to open the probe's connections; a loaded machine adds some.
    assert!(took < Duration::from_secs(20), "{took:?}");
    let dribbled = dribbler.join().unwrap();
    assert!(
        dribbled >= Duration::from_secs(9) && dribbled < Duration::from_secs(20),
        "{dribbled:?}"
    );
    drop(silent);
    // After: the terminals answer and the API serves again.
    at_ok(&terminal);
    let (status, body) = server_state(&server);
    assert_eq!(status, 200, "{body}");
}

/// What the API says to a connection past its cap, which sends nothing.
fn busy_answer(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET /state` with the token.
fn server_state(server: &Server) -> (u16, String) {
    let addr = server.control_addr();
    request(
        &addr,
        "GET",
        "/state",
        &format!(
            "Host: {addr}\r\nAuthorization: Bearer {}\r\n",
            server.token()
        ),
        "",
    )
}

#[test]
fn a_fleet_stopped_by_sigterm_takes_its_token_file_with_it() {
    let base = free_base(2);
    let mut fleet = Server::start_with(
        "fleet",
        &[
            "--count",
            "2",
            "--tcp",
            &format!("127.0.0.1:{base}"),
            "--control",
            "127.0.0.1:0",
        ],
        3,
    );
    let file = fleet.line_with("control token: ");
    assert!(std::path::Path::new(&file).exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(fleet.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(fleet.child.wait().unwrap().success());
    assert!(!std::path::Path::new(&file).exists());
}

/// Sends `line` on `s` and reads until the answer ends with `end`.
fn exchange(s: &mut TcpStream, line: &str, end: &str) -> String {
    s.write_all(format!("{line}\r").as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(end.as_bytes()) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn egress_lets_the_module_reach_only_what_it_lists() {
    // A real listener the module would reach without --egress.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--egress",
            "10.0.0.0/8,192.0.2.7:21",
        ],
        1,
    );
    let mut s = TcpStream::connect(server.line_with("tcp://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(&mut s, "ATE0", "OK\r\n");
    exchange(&mut s, "AT+CMEE=2", "OK\r\n");
    // A socket: refused as a refused connect is.
    exchange(&mut s, "AT+USOCR=6", "OK\r\n");
    let answer = exchange(&mut s, &format!("AT+USOCO=0,\"127.0.0.1\",{port}"), "\r\n");
    let answer = answer + &exchange(&mut s, "AT", "OK\r\n");
    assert!(answer.starts_with("\r\n+CME ERROR"), "{answer:?}");
    // FTP: the login fails with the module's connect failure.
    exchange(&mut s, "AT+UFTP=0,\"127.0.0.1\"", "OK\r\n");
    exchange(&mut s, &format!("AT+UFTP=7,{port}"), "OK\r\n");
    exchange(&mut s, "AT+UFTPC=1", "OK\r\n");
    assert_eq!(
        exchange(&mut s, "", "+UUFTPCR: 1,0\r\n"),
        "\r\n+UUFTPCR: 1,0\r\n"
    );
    assert_eq!(
        exchange(&mut s, "AT+UFTPER", "OK\r\n"),
        "\r\n+UFTPER: 1,4\r\n\r\nOK\r\n"
    );
    // Listed, the same address is reached.
    drop(s);
    drop(server);
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--egress", "127.0.0.1"], 1);
    let mut s = TcpStream::connect(server.line_with("tcp://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(&mut s, "ATE0", "OK\r\n");
    exchange(&mut s, "AT+USOCR=6", "OK\r\n");
    assert_eq!(
        exchange(&mut s, &format!("AT+USOCO=0,\"127.0.0.1\",{port}"), "\r\n"),
        "\r\nOK\r\n"
    );
    // A rule that is not one: refused at start, naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--tcp", "127.0.0.1:0", "--egress", "example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--egress \"example.com\""));
}
