//! Child-process plumbing: spawn a server in its own process group, wait for its greeting,
//! signal and kill it.
//!
//! Signals must reach the session processes that vsftpd, pure-ftpd and proftpd fork per
//! connection too (`SIGSTOP` freezes an open transfer, `SIGKILL` cuts it). A process group is not
//! enough: vsftpd makes each session a new session leader (`setsid`), leaving our group. So every
//! signal goes to the whole *tree* below the server, found by walking `/proc/*/stat` parent links,
//! and to the process group for good measure. To stop the tree from growing while it is walked,
//! the leader is stopped first (`SIGSTOP`: it cannot fork a new session meanwhile). The leader stays
//! our unreaped child until we `wait` for it, so its pid cannot be reused under us.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::{Error, Kind, Result, io_err};

/// How long a server gets to send its greeting.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A server child process (group leader).
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Option<Child>,
}

impl ServerProcess {
    /// Spawn `cmd` with stdout and stderr appended to `output_log`, in a new process group.
    pub fn spawn(kind: Kind, mut cmd: Command, output_log: &Path) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(output_log)
            .map_err(io_err(format!("open {}", output_log.display())))?;
        let log2 = log.try_clone().map_err(io_err("dup log fd"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(io_err(format!("spawn {kind}: {:?}", cmd.get_program())))?;
        Ok(Self { child: Some(child) })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(description)` if the leader has exited.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(format!("exited with {status}")),
            Ok(None) => None,
            Err(e) => Some(format!("wait failed: {e}")),
        }
    }

    pub fn signal(&self, signal: Signal) -> Result<()> {
        let Some(child) = self.child.as_ref() else {
            return Err(Error::Setup("server already killed".into()));
        };
        let leader = Pid::from_raw(child.id() as i32);
        signal_tree(leader, signal)
            .map(drop)
            .map_err(|e| Error::Setup(format!("signal {signal} to {leader} failed: {e}")))
    }

    /// SIGKILL the whole tree, reap the leader, and wait until every killed process has really
    /// exited (so no inherited listening socket still accepts). Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let leader = Pid::from_raw(child.id() as i32);
            let killed = signal_tree(leader, Signal::SIGKILL).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
            // SIGKILL is asynchronous: a session process that inherited the listening socket
            // keeps accepting until it is gone. Its exit (zombie or reaped) releases the fds.
            let deadline = Instant::now() + Duration::from_secs(5);
            while killed.iter().any(|&pid| is_running(pid)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Send `signal` to `leader`, all its descendants and its process group; returns the
/// descendants that were signalled.
fn signal_tree(leader: Pid, signal: Signal) -> nix::Result<Vec<Pid>> {
    // Freeze the leader first so it cannot fork while we look (SIGCONT/SIGKILL handle it last).
    if signal != Signal::SIGCONT {
        kill(leader, Signal::SIGSTOP)?;
    }
    let tree = descendants(leader);
    for &pid in &tree {
        let _ = kill(pid, signal);
    }
    let _ = killpg(leader, signal);
    kill(leader, signal)?;
    Ok(tree)
}

/// Whether `pid` exists and has not exited yet (a zombie has released its resources).
fn is_running(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x") | None)
}

/// All live descendants of `root` (children first-level first), from `/proc/<pid>/stat`.
fn descendants(root: Pid) -> Vec<Pid> {
    let mut parent_of: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces and ')', so split after the
            // last ')'.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut fields = after.split_whitespace();
            let _state = fields.next();
            if let Some(ppid) = fields.next().and_then(|p| p.parse::<i32>().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root.as_raw()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for &(pid, ppid) in &parent_of {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.into_iter().skip(1).map(Pid::from_raw).collect()
}

/// Concatenate log files with headers (missing files are noted, not fatal).
pub(crate) fn read_logs(paths: &[PathBuf]) -> String {
    let mut out = String::new();
    for p in paths {
        out.push_str(&format!("==> {} <==\n", p.display()));
        match std::fs::read(p) {
            Ok(bytes) => {
                // Keep the tail: logs can be long and the end is what explains a failure.
                const MAX: usize = 16 * 1024;
                let start = bytes.len().saturating_sub(MAX);
                out.push_str(&String::from_utf8_lossy(&bytes[start..]));
            }
            Err(e) => out.push_str(&format!("(unreadable: {e})\n")),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Connect once and read a complete greeting. `Ok(true)` = got `220`.
fn probe_greeting(addr: SocketAddr) -> std::result::Result<(), String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| format!("set timeout: {e}"))?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("read greeting: {e}"))?;
        if n == 0 {
            return Err("connection closed before greeting".into());
        }
        // Final line of a (possibly multi-line) reply: "ddd " + text.
        let b = line.as_bytes();
        if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
            break;
        }
    }
    let _ = (&stream).write_all(b"QUIT\r\n");
    if line.starts_with("220") {
        Ok(())
    } else {
        Err(format!("unexpected greeting {:?}", line.trim_end()))
    }
}

/// Poll `addr` until it greets with `220`. `alive` reports an early exit of the server.
pub(crate) fn wait_ready(
    kind: Kind,
    addr: SocketAddr,
    logs: &[PathBuf],
    mut alive: impl FnMut() -> Option<String>,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last_error;
    loop {
        if let Some(exit) = alive() {
            return Err(Error::NotReady {
                kind,
                reason: format!("server {exit} before greeting on {addr}"),
                log: read_logs(logs),
            });
        }
        match probe_greeting(addr) {
            Ok(()) => return Ok(()),
            Err(e) => last_error = e,
        }
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                kind,
                reason: format!(
                    "no 220 greeting on {addr} within {READY_TIMEOUT:?} (last: {last_error})"
                ),
                log: read_logs(logs),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Fail with [`Error::NotInstalled`] unless `path` exists.
pub(crate) fn require(what: &'static str, path: &Path) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(Error::NotInstalled {
            what,
            path: path.to_path_buf(),
        })
    }
}

/// Run a setup command to completion; its output goes into the error on failure.
pub(crate) fn run_setup(what: &str, cmd: &mut Command, stdin: Option<&[u8]>) -> Result<()> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(io_err(format!("spawn {what}")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .map_err(io_err(format!("write stdin of {what}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(io_err(format!("wait {what}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Setup(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
