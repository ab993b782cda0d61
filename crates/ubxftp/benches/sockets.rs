//! The socket service (`+USO*`) of the `ubxftp` binary, beside what the host does without a
//! module, in the same run:
//!
//! - **round trip**: `AT+USOWR=0,<n>,"…"` of `n` bytes (32 and 1000: a command line holds at
//!   most 1024 bytes, so a string write at most about 1000) to a TCP echo server on loopback, the
//!   `+UUSORD` that announces the echo, `AT+USORD=0,<n>` that reads it back (one TCP terminal,
//!   echo off), against the same bytes written by the host straight to the same echo server and
//!   read back; p50 and p99. A plain `AT` on the same terminal is timed too: the module's round
//!   trip is two AT commands and a URC around one echo.
//! - **direct link**: `AT+USODL` on a socket connected to a TCP sink (host → module → sink) and
//!   on one connected to a source (source → module → host, the source sends once a byte of the
//!   host reaches it), timed from the host's first byte until the last byte arrived; against
//!   `socat TCP-LISTEN:… TCP:…` relaying the same bytes between the same host and server, with
//!   socat's default 8 KiB buffer and with `-b 131072` (the module's link moves 128 KiB chunks).
//!   The escape (1 s of silence, `+++`, 1 s) is not timed.
//! - **memory per socket**: `ubxftp fleet --count N --tcp 127.0.0.1:BASE`, a terminal per module,
//!   then 7 TCP sockets per module connected to one echo server: the fleet's resident size
//!   (`VmRSS`) before the sockets, once they are connected, and once every socket has carried one
//!   echo. The descriptor limit is raised to its hard limit first; when that is still too low for
//!   N modules (9 descriptors each in the fleet), fewer modules are used and the line says so.
//!
//! `cargo bench -p ubxftp --bench sockets`: round trips of 32 and 1000 bytes, 5 × 5000 per
//! contender, alternating; direct link 64 MiB each way, 5 rounds per contender; 1000 modules ×
//! 7 sockets. Medians (MB/s are 10^6 bytes/s). Without `--bench` (as `cargo test --all-targets`
//! runs it) 100 round trips, 4 MiB once, 10 modules: a smoke test whose figures mean nothing.
//! Needs socat (`scripts/install-test-deps`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::Server;

/// One AT terminal of the binary over TCP, echo off.
struct Terminal {
    link: TcpStream,
    unread: Vec<u8>,
    buf: Vec<u8>,
}

impl Terminal {
    fn connect(addr: &str) -> Terminal {
        let link = TcpStream::connect(addr).expect("connect");
        link.set_nodelay(true).expect("nodelay");
        link.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut t = Terminal {
            link,
            unread: Vec::new(),
            buf: vec![0u8; 256 * 1024],
        };
        t.send("ATE0");
        t.until(b"OK\r\n");
        t
    }

    fn send(&mut self, line: &str) {
        self.link
            .write_all(format!("{line}\r").as_bytes())
            .expect("write");
    }

    /// Reads until `end` has arrived; returns everything up to and including it.
    fn until(&mut self, end: &[u8]) -> Vec<u8> {
        let mut scanned: usize = 0;
        loop {
            // Only what arrived since the last look (and the few bytes before it) is new.
            let from = scanned.saturating_sub(end.len());
            if let Some(pos) = self.unread[from..]
                .windows(end.len())
                .position(|w| w == end)
            {
                let cut = from + pos + end.len();
                let rest = self.unread.split_off(cut);
                return std::mem::replace(&mut self.unread, rest);
            }
            scanned = self.unread.len();
            self.fill();
        }
    }

    /// Exactly `len` bytes.
    fn take(&mut self, len: usize) -> Vec<u8> {
        while self.unread.len() < len {
            self.fill();
        }
        let rest = self.unread.split_off(len);
        std::mem::replace(&mut self.unread, rest)
    }

    fn fill(&mut self) {
        let n = self.link.read(&mut self.buf).expect("read");
        assert!(n > 0, "the module closed the terminal");
        self.unread.extend_from_slice(&self.buf[..n]);
    }

    /// Sends `line`, which must be answered with exactly `answer`.
    fn cmd(&mut self, line: &str, answer: &[u8]) {
        self.send(line);
        let end = if answer.ends_with(b"\r\nOK\r\n") {
            &b"\r\nOK\r\n"[..]
        } else {
            answer
        };
        let got = self.until(end);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(answer),
            "{line}"
        );
    }

    /// `AT+USOCR=6` and `AT+USOCO` to `port` on loopback; the socket's number.
    fn open_socket(&mut self, port: u16) -> u8 {
        self.send("AT+USOCR=6");
        let got = self.until(b"\r\nOK\r\n");
        let text = String::from_utf8_lossy(&got);
        let id = text
            .trim()
            .strip_prefix("+USOCR: ")
            .and_then(|rest| rest.split("\r\n").next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("AT+USOCR=6: {text:?}"));
        self.cmd(
            &format!("AT+USOCO={id},\"127.0.0.1\",{port}"),
            b"\r\nOK\r\n",
        );
        id
    }

    /// Writes `data` on socket `id` and reads its echo back: `+USOWR`, `+UUSORD`, `+USORD`.
    fn socket_echo(&mut self, id: u8, data: &str) {
        let n = data.len();
        self.send(&format!("AT+USOWR={id},{n},\"{data}\""));
        let got = self.until(b"\r\nOK\r\n");
        let answer = format!("\r\n+USOWR: {id},{n}\r\n\r\nOK\r\n");
        assert!(
            got.ends_with(answer.as_bytes()),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        let urc = format!("\r\n+UUSORD: {id},");
        // The echo's URC normally follows the answer; if it came first, it is in `got`.
        let mut announced = got.windows(urc.len()).any(|w| w == urc.as_bytes());
        let mut back = Vec::with_capacity(n);
        while back.len() < n {
            if !announced {
                self.until(urc.as_bytes());
                self.until(b"\r\n");
            }
            announced = false;
            self.send(&format!("AT+USORD={id},{}", n - back.len()));
            // Anything before the answer can only be a URC announcing what is now read too.
            let head = self.until(b"\r\n+USORD: ");
            assert!(head.starts_with(b"\r\n+USORD: ") || head.starts_with(b"\r\n+UUSORD: "));
            let head = self.until(b",");
            let k: usize = String::from_utf8_lossy(&self.until(b","))
                .trim_end_matches(',')
                .parse()
                .expect("+USORD length");
            assert_eq!(head, format!("{id},").as_bytes());
            assert_eq!(self.take(1), b"\"");
            back.extend(self.take(k));
            assert_eq!(self.until(b"\r\nOK\r\n"), b"\"\r\n\r\nOK\r\n");
        }
        assert_eq!(back, data.as_bytes(), "the echo");
    }

    /// Leaves data mode: 1.1 s of silence, `+++`, then `DISCONNECT` and `OK`.
    fn escape(&mut self) {
        thread::sleep(Duration::from_millis(1100));
        self.link.write_all(b"+++").expect("write");
        let got = self.until(b"\r\nDISCONNECT\r\n\r\nOK\r\n");
        assert_eq!(
            got, b"\r\nDISCONNECT\r\n\r\nOK\r\n",
            "only the exit after the data"
        );
    }
}

/// A TCP echo on loopback, a thread per connection (the floor for a round trip).
fn blocking_echo() -> u16 {
    serve_each(|mut link| {
        let mut buf = [0u8; 4096];
        while let Ok(n) = link.read(&mut buf) {
            if n == 0 || link.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

/// A listener on loopback whose connections are each served by `serve` on a thread.
fn serve_each(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let serve = Arc::new(serve);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let serve = serve.clone();
            thread::spawn(move || serve(stream));
        }
    });
    port
}

/// What one contender measured over one run of round trips.
struct Latency {
    p50: Duration,
    p99: Duration,
}

fn time_each(rounds: usize, mut once: impl FnMut()) -> Latency {
    let mut took: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            once();
            t.elapsed()
        })
        .collect();
    took.sort();
    Latency {
        p50: took[rounds / 2],
        p99: took[rounds * 99 / 100],
    }
}

fn median_latency(mut runs: Vec<Latency>) -> Latency {
    runs.sort_by_key(|r| r.p50);
    runs.swap_remove(runs.len() / 2)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// (a) `+USOWR` / `+UUSORD` / `+USORD` against a direct echo of the same bytes.
fn round_trips(module: &Server, repeats: usize, rounds: usize) {
    let echo = blocking_echo();
    let mut t = Terminal::connect(&module.line_with("tcp://"));
    let id = t.open_socket(echo);
    let mut direct = TcpStream::connect(("127.0.0.1", echo)).expect("connect echo");
    direct.set_nodelay(true).expect("nodelay");
    println!(
        "round trip through a socket, {repeats} x {rounds} per contender, medians of p50 / p99:"
    );
    for size in [32usize, 1000] {
        let data: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let mut back = vec![0u8; size];
        let mut direct_once = || {
            direct.write_all(data.as_bytes()).expect("write");
            direct.read_exact(&mut back).expect("read");
        };
        for _ in 0..100 {
            t.socket_echo(id, &data);
            direct_once();
        }
        let (mut m, mut d, mut at) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..repeats {
            m.push(time_each(rounds, || t.socket_echo(id, &data)));
            d.push(time_each(rounds, &mut direct_once));
            at.push(time_each(rounds, || t.cmd("AT", b"\r\nOK\r\n")));
        }
        let (m, d, at) = (median_latency(m), median_latency(d), median_latency(at));
        println!(
            "  {size:>4} B  module USOWR+UUSORD+USORD p50 {:>7.1} us p99 {:>7.1} us | direct echo \
             p50 {:>6.1} us p99 {:>6.1} us | ratio p50 {:.2}x p99 {:.2}x | plain AT p50 {:.1} us",
            us(m.p50),
            us(m.p99),
            us(d.p50),
            us(d.p99),
            us(m.p50) / us(d.p50),
            us(m.p99) / us(d.p99),
            us(at.p50)
        );
    }
}

/// A sink on loopback that counts every byte it receives, over all its connections.
fn sink() -> (u16, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let port = serve_each(move |mut link| {
        let mut buf = vec![0u8; 256 * 1024];
        while let Ok(n) = link.read(&mut buf) {
            if n == 0 {
                break;
            }
            count.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    (port, received)
}

/// A source on loopback: for every byte it receives on a connection, it sends all of `data`.
fn source(data: Arc<Vec<u8>>) -> u16 {
    serve_each(move |mut link| {
        let mut trigger = [0u8; 1];
        while matches!(link.read(&mut trigger), Ok(1)) {
            if link.write_all(&data).is_err() {
                break;
            }
        }
    })
}

/// Seconds from the first byte written to `link` until `received` has grown by `data.len()`.
fn push(link: &mut TcpStream, data: &[u8], received: &AtomicU64) -> f64 {
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    link.write_all(data).expect("write");
    while received.load(Ordering::Relaxed) - before < data.len() as u64 {
        thread::sleep(Duration::from_micros(100));
    }
    started.elapsed().as_secs_f64()
}

/// Seconds from the trigger byte written to `link` until `size` bytes were read from it.
fn pull(link: &mut impl Read, trigger: impl FnOnce(), size: u64, buf: &mut [u8]) -> f64 {
    let started = Instant::now();
    trigger();
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = link.read(&mut buf[..want]).expect("read");
        assert!(n > 0, "closed before the end");
        left -= n as u64;
    }
    started.elapsed().as_secs_f64()
}

/// `socat` relaying one connection from a port of its own to `target`, killed when dropped.
struct Socat {
    child: Child,
    link: TcpStream,
}

impl Socat {
    fn start(target: u16, block: Option<usize>) -> Socat {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr").port()
        };
        let mut cmd = Command::new("socat");
        if let Some(b) = block {
            cmd.arg("-b").arg(b.to_string());
        }
        let child = cmd
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"))
            .arg(format!("TCP:127.0.0.1:{target}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("socat (scripts/install-test-deps)");
        let deadline = Instant::now() + Duration::from_secs(10);
        let link = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(link) => break link,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("socat on port {port}: {e}"),
            }
        };
        link.set_nodelay(true).expect("nodelay");
        Socat { child, link }
    }
}

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.link.shutdown(std::net::Shutdown::Both);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (b) `+USODL` both ways against socat relaying the same bytes.
fn direct_link(module: &Server, size: usize, rounds: usize) {
    let data: Arc<Vec<u8>> = Arc::new(
        (0..size as u64)
            .map(|i| ((i * 2654435761) >> 13) as u8)
            .collect(),
    );
    let (sink_port, received) = sink();
    let source_port = source(data.clone());
    let mut t = Terminal::connect(&module.line_with("tcp://"));
    let up_id = t.open_socket(sink_port);
    let down_id = t.open_socket(source_port);
    let mut buf = vec![0u8; 256 * 1024];
    let mut secs: [Vec<f64>; 6] = Default::default();
    for _ in 0..rounds {
        t.cmd(&format!("AT+USODL={up_id}"), b"\r\nCONNECT\r\n");
        secs[0].push(push(&mut t.link, &data, &received));
        t.escape();
        t.cmd(&format!("AT+USODL={down_id}"), b"\r\nCONNECT\r\n");
        let link = &mut t.link.try_clone().expect("clone");
        let mut trigger = t.link.try_clone().expect("clone");
        secs[3].push(pull(
            link,
            || trigger.write_all(b"G").expect("write"),
            size as u64,
            &mut buf,
        ));
        t.escape();
        for (i, block) in [None, Some(128 * 1024)].into_iter().enumerate() {
            let mut relay = Socat::start(sink_port, block);
            secs[1 + i].push(push(&mut relay.link, &data, &received));
            let mut relay = Socat::start(source_port, block);
            let mut trigger = relay.link.try_clone().expect("clone");
            let went = pull(
                &mut relay.link,
                || trigger.write_all(b"G").expect("write"),
                size as u64,
                &mut buf,
            );
            secs[4 + i].push(went);
        }
    }
    let mb = |s: f64| size as f64 / s / 1e6;
    let [m_up, s_up, b_up, m_down, s_down, b_down] = secs.map(median);
    println!(
        "direct link, {} MiB, {rounds} round(s) per contender, medians:",
        size >> 20
    );
    for (way, m, s, b) in [
        ("host -> socket (sink)", m_up, s_up, b_up),
        ("socket (source) -> host", m_down, s_down, b_down),
    ] {
        println!(
            "  {way:<24} module AT+USODL {:>7.1} MB/s | socat {:>7.1} MB/s (ratio {:.2}) | socat -b 131072 \
             {:>7.1} MB/s (ratio {:.2})",
            mb(m),
            mb(s),
            s / m,
            mb(b),
            b / m
        );
    }
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Raises the soft descriptor limit to the hard one; returns it. A child process inherits it.
fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// A block of `n` free ports on loopback, below the test servers' range (20000-32767) and the
/// kernel's ephemeral ports (from 32768), which this bench's own sockets take thousands of.
fn free_base(n: u16) -> u16 {
    let mut base = 12_000 + (std::process::id() % 4) as u16 * 2000;
    loop {
        if (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
        base = if base + 2 * n > 20_000 {
            1024
        } else {
            base + n
        };
    }
}

/// (c) Resident memory of a fleet whose modules each hold 7 connected TCP sockets.
fn memory(wanted: usize) {
    const SOCKETS: usize = 7;
    // The fleet holds a listener, a terminal and 7 sockets per module; this process the other
    // end of the terminal and of the 7 sockets (the echo server is here too).
    let limit = raise_fd_limit() as usize;
    let modules = wanted.min(limit.saturating_sub(200) / (SOCKETS + 2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let echo = runtime
        .block_on(test_servers::sockets::TcpEcho::start())
        .expect("echo server");
    let echo_port = echo.addr().port();
    let base = free_base(modules as u16);
    let fleet = Server::start_with(
        "fleet",
        &[
            "--count",
            &modules.to_string(),
            "--tcp",
            &format!("127.0.0.1:{base}"),
        ],
        1,
    );
    let pid = fleet.child.id();
    let fresh = rss_kib(pid);
    let mut terminals: Vec<Terminal> = (0..modules)
        .map(|i| Terminal::connect(&format!("127.0.0.1:{}", base + i as u16)))
        .collect();
    let settle = || thread::sleep(Duration::from_millis(500));
    settle();
    let before = rss_kib(pid);
    let mut ids = Vec::new();
    for t in &mut terminals {
        ids.push(
            (0..SOCKETS)
                .map(|_| t.open_socket(echo_port))
                .collect::<Vec<u8>>(),
        );
    }
    settle();
    let connected = rss_kib(pid);
    for (t, ids) in terminals.iter_mut().zip(&ids) {
        for &id in ids {
            t.socket_echo(id, "sixteen bytes ..");
        }
    }
    settle();
    let used = rss_kib(pid);
    let sockets = modules * SOCKETS;
    assert_eq!(
        echo.connections(),
        sockets as u64,
        "every socket reached the echo server"
    );
    let per = |after: u64| after.saturating_sub(before) as f64 / sockets as f64;
    println!(
        "memory: {modules} modules{} x {SOCKETS} TCP sockets = {sockets}, fleet VmRSS: fresh {fresh} KiB, \
         a terminal each {before} KiB, sockets connected {connected} KiB ({:.1} KiB per socket), \
         one echo through each {used} KiB ({:.1} KiB per socket)",
        if modules < wanted {
            format!(" (not {wanted}: descriptor limit {limit})")
        } else {
            String::new()
        },
        per(connected),
        per(used)
    );
    drop(terminals);
    drop(fleet);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (repeats, rounds, size, dl_rounds, modules) = if full {
        (5, 5000, 64 << 20, 5, 1000)
    } else {
        (1, 100, 4 << 20, 1, 10)
    };
    if !full {
        println!("(smoke run: figures mean nothing)");
    }
    let module = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    round_trips(&module, repeats, rounds);
    direct_link(&module, size, dl_rounds);
    drop(module);
    memory(modules);
}
