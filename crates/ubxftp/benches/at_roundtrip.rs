//! AT round trips: how many `AT` → `OK` exchanges per second the `ubxftp` binary answers, and
//! how long each takes, over TCP and over its pseudo-terminal — side by side, in the same run,
//! with a raw echo over the same transport, which is the floor no AT terminal can beat.
//!
//! One host connection sends `AT\r` and waits for the whole answer (`AT\r\r\nOK\r\n`, echo on as
//! the module ships) before sending the next, as a driver does. The echo reference sends the
//! same `AT\r` and waits for those 3 bytes to come back: it measures the transport and the two
//! context switches, nothing else. The figures that matter are the ratios.
//!
//! `cargo bench -p ubxftp --bench at_roundtrip` runs the full measurement (5 rounds of 20 000
//! round trips per contender, alternating, medians reported). Without `--bench` (as
//! `cargo test --all-targets` runs it) it does a few hundred round trips per contender: a smoke
//! test that the bench still works, whose figures mean nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::termios;

#[path = "../tests/support/mod.rs"]
mod support;

use support::Server;

/// What one contender measured over one run of round trips.
struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Sends `request`, reads until `answer` has arrived in full, `rounds` times; times each.
fn measure(link: &mut (impl Read + Write), request: &[u8], answer: &[u8], rounds: usize) -> Run {
    let mut latencies = Vec::with_capacity(rounds);
    let mut buf = [0u8; 256];
    let start = Instant::now();
    for _ in 0..rounds {
        let t = Instant::now();
        link.write_all(request).expect("write");
        let mut got = 0;
        while got < answer.len() {
            let n = link.read(&mut buf[got..]).expect("read");
            assert!(n > 0, "the other side closed");
            got += n;
        }
        assert_eq!(&buf[..got], answer, "unexpected answer");
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    Run {
        per_second: rounds as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

/// A TCP echo server on loopback, one thread per connection.
fn tcp_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            thread::spawn(move || echo(stream));
        }
    });
    addr
}

/// Writes back whatever arrives until the other side closes.
fn echo(mut link: impl Read + Write) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = link.read(&mut buf) {
        if n == 0 || link.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// A pseudo-terminal in raw mode whose master echoes; returns the slave for the host side.
fn pty_echo() -> std::fs::File {
    let pair = nix::pty::openpty(None, None).expect("openpty");
    make_raw(&pair.slave);
    let master = std::fs::File::from(pair.master);
    thread::spawn(move || echo(master));
    std::fs::File::from(pair.slave)
}

/// The same echo, but the way ubxftp read a PTY until it got a thread of its own per PTY: the
/// master non-blocking in tokio's reactor (`AsyncFd`) on a multi-thread runtime. It tells what
/// the reactor itself costs a PTY round trip, apart from anything the module does, and so what
/// the transport's own thread (`transport/fd_executor.rs`) saves.
fn pty_echo_tokio() -> std::fs::File {
    let pair = nix::pty::openpty(None, None).expect("openpty");
    make_raw(&pair.slave);
    let master = pair.master;
    let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL).expect("getfl");
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("setfl");
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            // SAFETY: `master` is an OwnedFd we own; the AsyncFd owns it from here on, so the
            // descriptor stays open and the same for the AsyncFd's whole life (as in the PTY
            // transport).
            let fd = unsafe { tokio::io::unix::AsyncFd::register(master) }.expect("asyncfd");
            let mut buf = [0u8; 4096];
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    break;
                };
                match ready.try_io(|f| {
                    nix::unistd::read(f.get_ref(), &mut buf).map_err(std::io::Error::from)
                }) {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => {
                        let _ = nix::unistd::write(fd.get_ref(), &buf[..n]);
                    }
                    Err(_would_block) => continue,
                }
            }
        });
    });
    std::fs::File::from(pair.slave)
}

fn make_raw(fd: &OwnedFd) {
    let mut t = termios::tcgetattr(fd).expect("tcgetattr");
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(fd, termios::SetArg::TCSANOW, &t).expect("tcsetattr");
}

fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    runs.swap_remove(runs.len() / 2)
}

fn report(transport: &str, module: &Run, echo: &Run) {
    println!(
        "{transport:<4} ubxftp AT->OK {:>9.0}/s  p50 {:>6.1} us  p99 {:>6.1} us",
        module.per_second,
        module.p50.as_secs_f64() * 1e6,
        module.p99.as_secs_f64() * 1e6
    );
    println!(
        "{transport:<4} raw echo      {:>9.0}/s  p50 {:>6.1} us  p99 {:>6.1} us",
        echo.per_second,
        echo.p50.as_secs_f64() * 1e6,
        echo.p99.as_secs_f64() * 1e6
    );
    println!(
        "{transport:<4} ratio ubxftp/echo: {:.2} of the echo's round trips per second, p50 latency {:.2}x",
        module.per_second / echo.per_second,
        module.p50.as_secs_f64() / echo.p50.as_secs_f64()
    );
}

/// Ends the process if the run takes far longer than it should: a module that stops answering
/// must fail the smoke run in CI, not hang it (the PTY reads block without a timeout).
fn watchdog(limit: Duration) {
    thread::spawn(move || {
        thread::sleep(limit);
        eprintln!("at_roundtrip: no result after {limit:?}: a contender stopped answering");
        std::process::exit(1);
    });
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    watchdog(Duration::from_secs(if full { 600 } else { 60 }));
    let (repeats, rounds) = if full { (5, 20_000) } else { (1, 300) };
    const REQUEST: &[u8] = b"AT\r";
    const ANSWER: &[u8] = b"AT\r\r\nOK\r\n";

    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("modem");
    let module = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--pty",
            "--pty-link",
            link.to_str().expect("utf-8 path"),
        ],
        2,
    );
    let mut module_tcp = TcpStream::connect(module.line_with("tcp://")).expect("connect");
    module_tcp.set_nodelay(true).expect("nodelay");
    module_tcp
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut module_pty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(module.line_with("pty: "))
        .expect("open the module's pty");
    let mut echo_tcp = TcpStream::connect(tcp_echo()).expect("connect echo");
    echo_tcp.set_nodelay(true).expect("nodelay");
    let mut echo_pty = pty_echo();
    let mut echo_pty_tokio = pty_echo_tokio();

    // Warm up every path once (first allocation, page faults, the module's first terminal).
    for _ in 0..100 {
        measure(&mut module_tcp, REQUEST, ANSWER, 1);
        measure(&mut module_pty, REQUEST, ANSWER, 1);
        measure(&mut echo_tcp, REQUEST, REQUEST, 1);
        measure(&mut echo_pty, REQUEST, REQUEST, 1);
        measure(&mut echo_pty_tokio, REQUEST, REQUEST, 1);
    }

    let (mut tcp_module, mut tcp_echo_runs, mut pty_module, mut pty_echo_runs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut pty_tokio_runs = Vec::new();
    for _ in 0..repeats {
        tcp_module.push(measure(&mut module_tcp, REQUEST, ANSWER, rounds));
        tcp_echo_runs.push(measure(&mut echo_tcp, REQUEST, REQUEST, rounds));
        pty_module.push(measure(&mut module_pty, REQUEST, ANSWER, rounds));
        pty_echo_runs.push(measure(&mut echo_pty, REQUEST, REQUEST, rounds));
        pty_tokio_runs.push(measure(&mut echo_pty_tokio, REQUEST, REQUEST, rounds));
    }
    println!(
        "AT round trips, one at a time: {repeats} x {rounds} per contender, medians{}",
        if full {
            ""
        } else {
            " (smoke run: figures mean nothing)"
        }
    );
    report("tcp", &median_run(tcp_module), &median_run(tcp_echo_runs));
    let pty_echo = median_run(pty_echo_runs);
    report("pty", &median_run(pty_module), &pty_echo);
    // The reactor's share: the same echo through tokio's AsyncFd, beside the blocking echo.
    report("pty-tokio-echo", &median_run(pty_tokio_runs), &pty_echo);
}
