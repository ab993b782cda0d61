//! CPU time per AT command under load: the `ubxftp` binary with many TCP terminals, every one
//! of them sending `AT\r` again as soon as its answer is in, beside a trivial echo server under
//! the same load, in the same run.
//!
//! One `ubxftp serve --tcp 127.0.0.1:0` process serves every connection as one more terminal of
//! the same module. The reference is a tokio TCP server (multi-thread runtime with as many
//! workers as ubxftp's, `TCP_NODELAY`, a 1 KiB read buffer like an idle terminal's) in a child
//! process of its own, which answers every `\r` with the module's 9 bytes `AT\r\r\nOK\r\n`: the
//! socket work of an AT terminal without the AT work. The load comes from this process: tokio
//! tasks, one per connection, on two worker threads.
//!
//! Measured over a window of steady load: the commands answered (all connections), and the
//! server process's CPU time (`utime + stime` of `/proc/<pid>/stat`, all its threads). The figure
//! that matters is commands per CPU-second of the server, and its ratio to the echo's.
//!
//! `cargo bench -p ubxftp --bench at_load`: 1000 terminals, 3 windows of 10 s per contender,
//! alternating, medians. Without `--bench` (as `cargo test --all-targets` runs it) 20 terminals
//! for a few hundred commands: a smoke test whose figures mean nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "../tests/support/mod.rs"]
mod support;

use support::Server;

const REQUEST: &[u8] = b"AT\r";
/// The module's answer with echo on, as it ships; the echo server sends the same bytes.
const ANSWER: &[u8] = b"AT\r\r\nOK\r\n";

/// The argument that makes this binary the echo server (see [`echo_server`]).
const ECHO_ARG: &str = "--at-load-echo-server";

/// What one window of load measured.
struct Window {
    commands: u64,
    wall: Duration,
    /// CPU time of the server process in the window.
    server_cpu: Duration,
    /// CPU time of this process (the load) in the window.
    client_cpu: Duration,
}

impl Window {
    fn per_cpu_second(&self) -> f64 {
        self.commands as f64 / self.server_cpu.as_secs_f64().max(1e-9)
    }
}

/// `utime + stime` of a process, all threads, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str, ticks_per_second: u64) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name (field 2) may hold spaces; the fields after it start after its ')'.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_secs_f64(ticks as f64 / ticks_per_second as f64)
}

fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// The echo server: answers every `\r` with [`ANSWER`], a task per connection.
fn echo_server() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("tcp://{}", listener.local_addr().expect("addr"));
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1024];
                let mut out = Vec::new();
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    out.clear();
                    for _ in buf[..n].iter().filter(|&&b| b == b'\r') {
                        out.extend_from_slice(ANSWER);
                    }
                    if stream.write_all(&out).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// The echo server as a child process (this binary again), killed when dropped.
struct Echo {
    child: Child,
    addr: String,
}

impl Echo {
    fn start() -> Echo {
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .arg(ECHO_ARG)
            .stdout(Stdio::piped())
            .spawn()
            .expect("echo server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("echo address");
        let addr = line
            .trim()
            .strip_prefix("tcp://")
            .expect("tcp://")
            .to_string();
        Echo { child, addr }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `AT\r` and reads its whole answer, again and again, until `stop`; counts answers.
async fn drive(mut link: TcpStream, answered: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        link.write_all(REQUEST).await.expect("write");
        let mut got = 0;
        while got < ANSWER.len() {
            let n = link.read(&mut buf[got..]).await.expect("read");
            assert!(n > 0, "the server closed a terminal");
            got += n;
        }
        assert_eq!(&buf[..got], ANSWER, "unexpected answer");
        answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Opens `terminals` connections to `addr`, loads them all for `window` after a warm-up, and
/// measures the server process `pid` over the window. In a smoke run (`min_commands` > 0) the
/// window ends early once that many commands were answered.
fn load(
    runtime: &tokio::runtime::Runtime,
    addr: &str,
    pid: &str,
    terminals: usize,
    window: Duration,
    min_commands: u64,
) -> Window {
    let ticks = ticks_per_second();
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = runtime.block_on(async {
        let mut tasks = Vec::with_capacity(terminals);
        for _ in 0..terminals {
            let link = TcpStream::connect(addr).await.expect("connect");
            link.set_nodelay(true).expect("nodelay");
            tasks.push(tokio::spawn(drive(link, answered.clone(), stop.clone())));
        }
        tasks
    });
    // Warm-up: every terminal has answered, the load is steady.
    std::thread::sleep(window / 10);
    let (c0, s0, l0, t0) = (
        answered.load(Ordering::Relaxed),
        cpu_time(pid, ticks),
        cpu_time("self", ticks),
        Instant::now(),
    );
    while t0.elapsed() < window
        && (min_commands == 0 || answered.load(Ordering::Relaxed) - c0 < min_commands)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let result = Window {
        commands: answered.load(Ordering::Relaxed) - c0,
        wall: t0.elapsed(),
        server_cpu: cpu_time(pid, ticks) - s0,
        client_cpu: cpu_time("self", ticks) - l0,
    };
    stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for task in tasks {
            task.await.expect("a terminal's load failed");
        }
    });
    result
}

fn median(mut windows: Vec<Window>) -> Window {
    windows.sort_by(|a, b| a.per_cpu_second().total_cmp(&b.per_cpu_second()));
    windows.swap_remove(windows.len() / 2)
}

/// Whether a window's CPU time is long enough to mean something (`/proc` counts in ticks of 10
/// ms; a smoke run's window can be shorter than one).
fn measurable(w: &Window) -> bool {
    w.server_cpu >= Duration::from_millis(100)
}

fn report(what: &str, w: &Window) {
    if !measurable(w) {
        return println!(
            "{what:<10} {} commands in {:.3} s: too short to measure CPU time",
            w.commands,
            w.wall.as_secs_f64()
        );
    }
    println!(
        "{what:<10} {:>9.0} commands/s  server CPU {:>5.1} %  {:>9.0} commands per server CPU-second \
         ({:>5.1} us CPU each)  load CPU {:>5.1} %",
        w.commands as f64 / w.wall.as_secs_f64(),
        100.0 * w.server_cpu.as_secs_f64() / w.wall.as_secs_f64(),
        w.per_cpu_second(),
        1e6 / w.per_cpu_second(),
        100.0 * w.client_cpu.as_secs_f64() / w.wall.as_secs_f64(),
    );
}

fn main() {
    if std::env::args().any(|a| a == ECHO_ARG) {
        return echo_server();
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (terminals, window, rounds, min_commands) = if full {
        (1000, Duration::from_secs(10), 3, 0)
    } else {
        (20, Duration::from_secs(5), 1, 300)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let module = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    let module_addr = module.line_with("tcp://");
    let module_pid = module.child.id().to_string();
    let echo = Echo::start();
    let echo_pid = echo.child.id().to_string();

    let (mut modules, mut echoes) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let m = load(
            &runtime,
            &module_addr,
            &module_pid,
            terminals,
            window,
            min_commands,
        );
        let e = load(
            &runtime,
            &echo.addr,
            &echo_pid,
            terminals,
            window,
            min_commands,
        );
        assert!(m.commands > 0 && e.commands > 0, "no command was answered");
        modules.push(m);
        echoes.push(e);
    }
    println!(
        "AT under load: {terminals} TCP terminals each sending AT as soon as answered, \
         {rounds} x {:.0} s per contender, medians{}",
        window.as_secs_f64(),
        if full {
            ""
        } else {
            " (smoke run: figures mean nothing)"
        }
    );
    let each = |windows: &[Window]| {
        let v: Vec<String> = windows
            .iter()
            .map(|w| format!("{:.0}", w.per_cpu_second()))
            .collect();
        v.join(" / ")
    };
    if modules.iter().chain(&echoes).all(measurable) {
        println!(
            "each window, commands per server CPU-second: ubxftp {}, echo {}",
            each(&modules),
            each(&echoes)
        );
    }
    let (m, e) = (median(modules), median(echoes));
    report("ubxftp", &m);
    report("echo", &e);
    if !(measurable(&m) && measurable(&e)) {
        return;
    }
    println!(
        "ratio ubxftp/echo: {:.2} of the echo's commands per CPU-second ({:.2}x the CPU per command)",
        m.per_cpu_second() / e.per_cpu_second(),
        e.per_cpu_second() / m.per_cpu_second()
    );
}
