//! Running the `ubxftp` binary for tests and benchmarks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `ubxftp serve ARGS`, killed when dropped.
pub struct Server {
    pub child: Child,
    /// The lines it printed when its transports came up.
    pub lines: Vec<String>,
    /// Its `$XDG_RUNTIME_DIR`, where `--control` writes the token file (and `ctl` finds it).
    pub runtime_dir: tempfile::TempDir,
}

impl Server {
    /// Starts `ubxftp serve ARGS` and reads stdout until `ready` lines were printed.
    pub fn start(args: &[&str], ready: usize) -> Server {
        Server::start_with("serve", args, ready)
    }

    /// Starts `ubxftp COMMAND ARGS` and reads stdout until `ready` lines were printed.
    pub fn start_with(command: &str, args: &[&str], ready: usize) -> Server {
        Server::start_limited(command, args, ready, None)
    }

    /// [`Server::start_with`], the process allowed at most `files` open file descriptors.
    pub fn start_limited(command: &str, args: &[&str], ready: usize, files: Option<u64>) -> Server {
        let runtime_dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ubxftp"));
        cmd.arg(command)
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .env_remove("UBXFTP_CONTROL_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(files) = files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is a plain system call, safe between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        files,
                        files,
                    )
                    .map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..ready {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            lines.push(line.trim().to_string());
        }
        Server {
            child,
            lines,
            runtime_dir,
        }
    }

    /// The rest of the ready line that starts with `prefix`.
    pub fn line_with(&self, prefix: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{:?}", self.lines))
            .to_string()
    }
}

impl Server {
    /// Runs `ubxftp ARGS` in this server's environment: `ctl` finds its token file.
    pub fn ubxftp(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ubxftp"))
            .args(args)
            .env("XDG_RUNTIME_DIR", self.runtime_dir.path())
            .env_remove("UBXFTP_CONTROL_TOKEN")
            .output()
            .unwrap()
    }

    /// The control API's address, `HOST:PORT`.
    pub fn control_addr(&self) -> String {
        self.line_with("control: http://")
    }

    /// The control API's token, read from the file the server named.
    pub fn token(&self) -> String {
        let path = self.line_with("control token: ");
        std::fs::read_to_string(path).unwrap().trim().to_string()
    }

    /// `METHOD PATH` on the control API with its token, a JSON body if any: the status and the
    /// answer as JSON (`null` when empty or not JSON).
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let addr = self.control_addr();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n",
            self.token()
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        let (status, text) = http(&addr, &format!("{head}\r\n{}", body.unwrap_or("")));
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// Sends `request` (a whole HTTP/1.1 request, with `Connection: close`) to `addr`: the answer's
/// status and body.
pub fn http(addr: &str, request: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ubxftp COMMAND ARGS`, which must refuse to start: it exits within 5 s, unsuccessfully,
/// having printed no ready line. Returns its error text.
pub fn refused(command: &str, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg(command)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running: {command} {args:?} was accepted");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "something started: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
