//! Running the `ubxftp` binary for tests and benchmarks.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `ubxftp serve ARGS`, killed when dropped.
pub struct Server {
    pub child: Child,
    /// The lines it printed when its transports came up.
    pub lines: Vec<String>,
}

impl Server {
    /// Starts `ubxftp serve ARGS` and reads stdout until `ready` lines were printed.
    pub fn start(args: &[&str], ready: usize) -> Server {
        Server::start_with("serve", args, ready)
    }

    /// Starts `ubxftp COMMAND ARGS` and reads stdout until `ready` lines were printed.
    pub fn start_with(command: &str, args: &[&str], ready: usize) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
            .arg(command)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        for _ in 0..ready {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            lines.push(line.trim().to_string());
        }
        Server { child, lines }
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
