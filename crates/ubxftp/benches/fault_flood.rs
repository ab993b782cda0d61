//! The fault-flood probe of issue 20: what a flood of `POST /faults` on the control API does to
//! the module's AT terminal and to its memory.
//!
//! The release `ubxftp` binary runs with the control API. One TCP terminal sends `AT\r` and
//! waits for the whole answer (`AT\r\r\nOK\r\n`) before the next, as a driver does, through
//! three windows: idle, during the flood, and after it. The flood is `FLOODERS` keep-alive
//! connections, each sending `POST` requests as fast as the answers come: `201` until the cap,
//! then `429`. The figures: each window's AT round trips (p50, p99, max), the flood's answers
//! by status, and the server's resident memory (`VmRSS` of `/proc/<pid>/status`) before the
//! flood, at its end and after the last window. The reference is the idle window: the ratio of
//! the flood's p50 and p99 to it.
//!
//! Two runs: `serve` (one module; `POST /faults`, cap 256) and `fleet --count 1000` (`POST
//! /fleet/faults` with `"modems": "all"`, 1000 faults a request, cap 100 000 for the process;
//! the terminal is module 0's).
//!
//! `cargo bench -p ubxftp --bench fault_flood`: windows of 10 s. Without `--bench` (as
//! `cargo test --all-targets` runs it) windows of 1 s: a smoke run whose figures mean nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::Server;

const REQUEST: &[u8] = b"AT\r";
const ANSWER: &[u8] = b"AT\r\r\nOK\r\n";

/// Connections sending `POST` at once (the API serves 64).
const FLOODERS: usize = 16;

/// A fault that never fires during the run.
const FAULT: &str = r#"{"target": "dns", "action": "fail", "at_ms": 600000}"#;

/// Round trips of one window.
struct Window {
    samples: Vec<Duration>,
}

impl Window {
    fn at(&self, q: f64) -> Duration {
        let i = ((self.samples.len() as f64 * q) as usize).min(self.samples.len() - 1);
        self.samples[i]
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<7} {:>7} AT round trips  p50 {:>8.1} us  p99 {:>8.1} us  max {:>8.1} us",
            self.samples.len(),
            us(self.at(0.50)),
            us(self.at(0.99)),
            us(self.samples[self.samples.len() - 1]),
        )
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `AT` round trips on `link` for `window`.
fn ping(link: &mut TcpStream, window: Duration) -> Window {
    let mut samples = Vec::new();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    while start.elapsed() < window {
        let t = Instant::now();
        link.write_all(REQUEST).expect("write");
        let mut got = 0;
        while got < ANSWER.len() {
            let n = link.read(&mut buf[got..]).expect("read");
            assert!(n > 0, "the module closed the terminal");
            got += n;
        }
        assert_eq!(&buf[..got], ANSWER, "unexpected answer");
        samples.push(t.elapsed());
    }
    samples.sort();
    assert!(!samples.is_empty(), "no round trip in the window");
    Window { samples }
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Answers of the flood, by status.
#[derive(Default)]
struct Tally {
    created: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
}

/// Reads one HTTP answer from `s`: its status.
fn answer(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}

/// One flooding connection: `POST path` with `body` until `stop`, reconnecting when the API
/// closes the connection.
fn flood(
    addr: String,
    token: String,
    path: String,
    body: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(&addr) else {
            thread::sleep(Duration::from_millis(1));
            continue;
        };
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        while !stop.load(Ordering::Relaxed) {
            if s.write_all(request.as_bytes()).is_err() {
                break;
            }
            match answer(&mut s, &mut buf) {
                Some(201) => tally.created.fetch_add(1, Ordering::Relaxed),
                Some(429) => tally.too_many.fetch_add(1, Ordering::Relaxed),
                Some(_) => tally.other.fetch_add(1, Ordering::Relaxed),
                None => break,
            };
        }
    }
}

/// One run: a server started by `start`, its terminal at `terminal`, flooded on `path`.
fn run(name: &str, server: &Server, terminal: &str, path: &str, body: &str, window: Duration) {
    let pid = server.child.id();
    let mut link = TcpStream::connect(terminal).expect("terminal");
    link.set_nodelay(true).expect("nodelay");
    // Warm-up: the terminal's buffers are made, the code paths are hot.
    ping(&mut link, window / 10);
    let idle = ping(&mut link, window);
    let rss_before = rss_kib(pid);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| {
            let (addr, token) = (server.control_addr(), server.token());
            let (path, body) = (path.to_string(), body.to_string());
            let (tally, stop) = (tally.clone(), stop.clone());
            thread::spawn(move || flood(addr, token, path, body, tally, stop))
        })
        .collect();
    let started = Instant::now();
    let during = ping(&mut link, window);
    let rss_flood = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().expect("a flooder failed");
    }
    let flood_time = started.elapsed();
    let after = ping(&mut link, window);
    let rss_after = rss_kib(pid);
    // Module 0's faults: `/faults` of a single module, `/modems/0/faults` of a fleet.
    let (_, faults) = server.api("GET", &path.replace("/fleet/", "/modems/0/"), None);
    let held = faults.as_array().map_or(0, Vec::len);
    let (created, too_many, other) = (
        tally.created.load(Ordering::Relaxed),
        tally.too_many.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    println!(
        "\n{name}: {FLOODERS} connections of POST {path} for {:.1} s",
        flood_time.as_secs_f64()
    );
    println!(
        "flood   {} requests ({:.0}/s): {created} x 201, {too_many} x 429, {other} other; \
         module 0 holds {held} faults",
        created + too_many + other,
        (created + too_many + other) as f64 / flood_time.as_secs_f64()
    );
    println!("{}", idle.line("idle"));
    println!("{}", during.line("flood"));
    println!("{}", after.line("after"));
    println!(
        "during/idle: p50 {:.2}x  p99 {:.2}x;  after/idle: p50 {:.2}x  p99 {:.2}x",
        us(during.at(0.5)) / us(idle.at(0.5)),
        us(during.at(0.99)) / us(idle.at(0.99)),
        us(after.at(0.5)) / us(idle.at(0.5)),
        us(after.at(0.99)) / us(idle.at(0.99)),
    );
    println!(
        "RSS     before {:.1} MiB  end of flood {:.1} MiB  after {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_flood as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    assert!(other == 0, "{other} answers were neither 201 nor 429");
}

/// Ports BASE..BASE+n, all free now.
fn free_base(n: u16) -> u16 {
    let mut base = 42000 + (std::process::id() % 200) as u16 * 10;
    loop {
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
        base += n;
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let window = if full {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    println!(
        "Fault flood: AT round trips on one TCP terminal, idle / during a POST flood / after, \
         windows of {:.0} s{}",
        window.as_secs_f64(),
        if full {
            ""
        } else {
            " (smoke run: figures mean nothing)"
        }
    );
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let terminal = server.line_with("tcp://");
    run("serve", &server, &terminal, "/faults", FAULT, window);
    drop(server);

    let count: u16 = 1000;
    let base = free_base(count);
    let fleet = Server::start_with(
        "fleet",
        &[
            "--count",
            &count.to_string(),
            "--tcp",
            &format!("127.0.0.1:{base}"),
            "--control",
            "127.0.0.1:0",
        ],
        3,
    );
    let all = r#"{"modems": "all", "target": "dns", "action": "fail", "at_ms": 600000}"#;
    run(
        &format!("fleet --count {count}"),
        &fleet,
        &format!("127.0.0.1:{base}"),
        "/fleet/faults",
        all,
        window,
    );
}
