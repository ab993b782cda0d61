//! FTP direct link through the `ubxftp` binary's TCP terminal, beside curl on the same vsftpd, in
//! the same run:
//!
//! - **retrieve**: `AT+UFTPC=6` of a file, timed from the command line to the `OK` after
//!   `DISCONNECT`, every byte read by this host; reference `curl -o /dev/null` of the same file
//!   (curl's own `time_total - time_pretransfer`, so neither side pays for login or start-up);
//! - **store**: `AT+UFTPC=7`, the file written as fast as the terminal takes it, timed from the
//!   command line until the server's copy has every byte (then `+++`, untimed: see
//!   [`module_store`]); reference `curl -T` of the same file;
//! - beside each, curl with its data through a pipe to or from this process, which has as many
//!   hops as the module's path (server → module → TCP → host): the figure for what the module
//!   itself costs;
//! - **memory**: a fresh `ubxftp` process's peak resident size (`VmHWM`) while a host starts a
//!   direct retrieve of the whole file and reads nothing for 3 s, then escapes; beside its peak
//!   after start-up.
//!
//! `cargo bench -p ubxftp --bench direct_link` moves 256 MiB, 5 rounds per contender,
//! alternating, and prints medians in MB/s (10^6 bytes/s). Without `--bench` (as
//! `cargo test --all-targets` runs it) it moves 2 MiB once: a smoke test whose figures mean
//! nothing. Needs vsftpd and curl (`scripts/install-test-deps`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use test_servers::{Kind, RunningServer, ServerOptions, start_blocking};

#[path = "../tests/support/mod.rs"]
mod support;

use support::Server;

/// One AT terminal of the binary, over TCP, echo off.
struct Terminal {
    link: TcpStream,
    unread: Vec<u8>,
}

impl Terminal {
    fn connect(server: &Server) -> Terminal {
        let addr = server.line_with("tcp://");
        let link = TcpStream::connect(addr).expect("connect");
        link.set_nodelay(true).expect("nodelay");
        link.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let mut t = Terminal {
            link,
            unread: Vec::new(),
        };
        t.send("ATE0");
        t.until(b"OK\r\n");
        t
    }

    fn send(&mut self, line: &str) {
        self.link
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
    }

    /// Reads until `end` has arrived; returns everything up to and including it.
    fn until(&mut self, end: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 256 * 1024];
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
            let n = self.link.read(&mut buf).expect("read");
            assert!(n > 0, "the module closed the terminal");
            self.unread.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads and counts `len` bytes without keeping them.
    fn skip(&mut self, len: u64) {
        let mut left = len;
        let held = self.unread.len().min(len as usize);
        self.unread.drain(..held);
        left -= held as u64;
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = self.link.read(&mut buf[..want]).expect("read");
            assert!(n > 0, "the module closed the terminal");
            left -= n as u64;
        }
    }

    fn ok(&mut self, line: &str) {
        self.send(line);
        let got = self.until(b"\r\n");
        let got = [got, self.until(b"\r\n")].concat();
        assert_eq!(got, b"\r\nOK\r\n", "{line}");
    }
}

const EXIT: &[u8] = b"\r\nDISCONNECT\r\n\r\nOK\r\n";

fn login(t: &mut Terminal, vsftpd: &RunningServer) {
    t.ok(&format!("AT+UFTP=0,\"{}\"", vsftpd.addr.ip()));
    t.ok(&format!("AT+UFTP=7,{}", vsftpd.addr.port()));
    t.ok(&format!("AT+UFTP=2,\"{}\"", vsftpd.user));
    t.ok(&format!("AT+UFTP=3,\"{}\"", vsftpd.password));
    t.ok("AT+UFTP=6,1");
    t.ok("AT+UFTPC=1");
    t.until(b"+UUFTPCR: 1,1\r\n");
    t.ok("ATS12=1");
}

/// Seconds for `AT+UFTPC=6` of `size` bytes, command to final `OK`.
fn module_retrieve(t: &mut Terminal, size: u64) -> f64 {
    settle();
    let started = Instant::now();
    t.send("AT+UFTPC=6,\"big.bin\"");
    t.until(b"\r\nCONNECT\r\n");
    t.skip(size);
    let tail = t.until(EXIT);
    assert_eq!(tail, EXIT, "nothing but the file before DISCONNECT");
    let secs = started.elapsed().as_secs_f64();
    t.until(b"+UUFTPCR: 6,1\r\n");
    secs
}

/// Seconds for `AT+UFTPC=7` of `data`, from the command line until the server holds every byte.
///
/// The escape that follows is not timed: its silence is measured where the module reads, so the
/// host can only send `+++` safely once the module has taken everything (a TCP or PTY buffer
/// can still hold data after the host's write returned), as a driver on a real UART waits its
/// 2 s. The `DISCONNECT` / `OK` and the server's `226` are checked after it.
fn module_store(t: &mut Terminal, data: &[u8], server_file: &std::path::Path) -> f64 {
    settle();
    let _ = std::fs::remove_file(server_file);
    let started = Instant::now();
    t.send("AT+UFTPC=7,\"up.bin\"");
    t.until(b"\r\nCONNECT\r\n");
    t.link.write_all(data).expect("write");
    let size = data.len() as u64;
    while std::fs::metadata(server_file).map(|m| m.len()).unwrap_or(0) < size {
        thread::sleep(Duration::from_micros(200));
    }
    let secs = started.elapsed().as_secs_f64();
    // The guard time (S12=1: 20 ms) of silence, +++, the guard time again.
    thread::sleep(Duration::from_millis(50));
    t.link.write_all(b"+++").expect("write");
    t.until(EXIT);
    t.until(b"+UUFTPCR: 7,1\r\n");
    secs
}

/// curl's own transfer time (`time_total - time_pretransfer`).
fn curl(vsftpd: &RunningServer, args: &[&str]) -> f64 {
    settle();
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "600", "-w"])
        .arg("%{time_pretransfer} %{time_total}")
        .arg("--user")
        .arg(format!("{}:{}", vsftpd.user, vsftpd.password))
        .args(args)
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {args:?}: {}", out.status);
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|t| t.parse().expect("curl -w"))
        .collect();
    times[1] - times[0]
}

/// curl with its data through a pipe to or from this process: the same number of hops as the
/// module's path (server → curl → pipe → host, against server → module → TCP → host).
/// `upload` is written to curl's stdin; otherwise curl's stdout is read and counted.
fn curl_piped(vsftpd: &RunningServer, url: &str, upload: Option<&[u8]>) -> f64 {
    use std::process::Stdio;
    settle();
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--max-time", "600", "-w"])
        .arg("%{stderr}%{time_pretransfer} %{time_total}")
        .arg("--user")
        .arg(format!("{}:{}", vsftpd.user, vsftpd.password))
        .stderr(Stdio::piped());
    match upload {
        Some(_) => cmd.args(["-T", "-", url]).stdin(Stdio::piped()),
        None => cmd.args(["-o", "-", url]).stdout(Stdio::piped()),
    };
    let mut child = cmd.spawn().expect("curl");
    match upload {
        Some(data) => {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(data).expect("curl stdin");
        }
        None => {
            let mut stdout = child.stdout.take().expect("stdout");
            let mut buf = vec![0u8; 256 * 1024];
            while stdout.read(&mut buf).expect("curl stdout") > 0 {}
        }
    }
    let out = child.wait_with_output().expect("curl");
    assert!(out.status.success(), "curl piped: {}", out.status);
    let times: Vec<f64> = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    times[1] - times[0]
}

fn settle() {
    let _ = Command::new("sync").status();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mbps(size: u64, secs: f64) -> f64 {
    size as f64 / secs / 1e6
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (size, rounds): (u64, usize) = if full { (256 << 20, 5) } else { (2 << 20, 1) };
    println!(
        "FTP direct link over the binary's TCP terminal vs curl, vsftpd on loopback, {} MiB, \
         {rounds} round(s), medians{}",
        size >> 20,
        if full {
            ""
        } else {
            " (smoke run: figures mean nothing)"
        }
    );
    let vsftpd = start_blocking(Kind::Vsftpd, ServerOptions::default()).expect("vsftpd");
    let data: Vec<u8> = (0..size).map(|i| ((i * 2654435761) >> 13) as u8).collect();
    vsftpd.put_file("big.bin", &data).expect("put big.bin");
    let url = format!("ftp://{}/", vsftpd.addr);

    let module = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    let mut t = Terminal::connect(&module);
    login(&mut t, &vsftpd);

    let (mut m_get, mut c_get, mut p_get, mut m_put, mut c_put, mut p_put) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        m_get.push(module_retrieve(&mut t, size));
        c_get.push(curl(
            &vsftpd,
            &["-o", "/dev/null", &format!("{url}big.bin")],
        ));
        p_get.push(curl_piped(&vsftpd, &format!("{url}big.bin"), None));
        m_put.push(module_store(&mut t, &data, &vsftpd.root.join("up.bin")));
        p_put.push(curl_piped(
            &vsftpd,
            &format!("{url}piped-up.bin"),
            Some(&data),
        ));
        let local = vsftpd.root.join("big.bin");
        c_put.push(curl(
            &vsftpd,
            &["-T", &local.to_string_lossy(), &format!("{url}curl-up.bin")],
        ));
    }
    let row = |what: &str, module: f64, reference: &str, curl: f64| {
        println!(
            "{what:<34} {:>9.1} MB/s   {reference:<18} {:>9.1} MB/s   ratio {:.2}",
            mbps(size, module),
            mbps(size, curl),
            curl / module
        );
    };
    let (m_get, m_put) = (median(m_get), median(m_put));
    row(
        "retrieve (AT+UFTPC=6)",
        m_get,
        "curl -o /dev/null",
        median(c_get),
    );
    row("", m_get, "curl -o - | host", median(p_get));
    row("store (AT+UFTPC=7)", m_put, "curl -T FILE", median(c_put));
    row("", m_put, "host | curl -T -", median(p_put));
    drop(t);
    drop(module);

    // Memory: a fresh process, a host that asks for the whole file and reads nothing.
    let module = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    let pid = module.child.id();
    let mut t = Terminal::connect(&module);
    login(&mut t, &vsftpd);
    let idle = peak_rss_kib(pid);
    t.send("AT+UFTPC=6,\"big.bin\"");
    t.until(b"\r\nCONNECT\r\n");
    thread::sleep(Duration::from_secs(if full { 3 } else { 1 }));
    let stalled = peak_rss_kib(pid);
    t.link.write_all(b"+++").expect("write");
    // Read what was in flight, then the exit (a smoke run's small file may have fitted in the
    // socket buffers and completed: then the outcome is 1).
    t.until(b"+UUFTPCR: 6,");
    t.until(b"\r\n");
    println!(
        "peak RSS: {:.1} MiB after login, {:.1} MiB with a {} MiB direct retrieve and a host \
         that reads nothing (goal < 64 MiB)",
        idle as f64 / 1024.0,
        stalled as f64 / 1024.0,
        size >> 20
    );
}
