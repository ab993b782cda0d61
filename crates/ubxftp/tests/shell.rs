//! The shell around the module (issue 24 item 7): `ctl`'s output, colours only on a terminal,
//! and `--pty-link`, which replaces nothing but an old link to a pseudo-terminal.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::Server;

#[test]
fn ctl_prints_indented_json_and_one_line_with_json() {
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--control", "127.0.0.1:0"], 3);
    let addr = server.control_addr();
    let out = server.ubxftp(&["ctl", &addr, "state"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("{\n  \""), "{text}");
    assert!(text.ends_with("}\n"), "{text:?}");
    let compact = server.ubxftp(&["ctl", &addr, "state", "--json"]);
    let line = String::from_utf8(compact.stdout).unwrap();
    assert_eq!(line.matches('\n').count(), 1, "{line:?}");
    let a: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(a["model"], b["model"]);
}

/// What `serve` logs on standard error (at info) in its first moments, with `extra` flags.
fn log_of_serve(extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--tcp", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SIGTERM: `serve` logs its shutdown.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_colour_codes_unless_stderr_is_a_terminal_or_asked_for() {
    let redirected = log_of_serve(&[]);
    assert!(redirected.contains("INFO"), "{redirected}");
    assert!(!redirected.contains('\x1b'), "{redirected:?}");
    assert!(log_of_serve(&["--color", "always"]).contains("\x1b["));
    assert!(!log_of_serve(&["--color", "never"]).contains('\x1b'));
}

#[test]
fn pty_link_replaces_only_an_old_link_to_a_pseudo_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the link would go: refused, and left as it was.
    let file = dir.path().join("modem");
    std::fs::write(&file, b"my notes").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--pty", "--pty-link", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a symlink to a pseudo-terminal"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"my notes");
    // A link an earlier run left (its device gone): replaced, and removed at exit.
    let link = dir.path().join("ttyUBX");
    std::os::unix::fs::symlink("/dev/pts/9999", &link).unwrap();
    let server = Server::start(&["--pty", "--pty-link", link.to_str().unwrap()], 1);
    let target = std::fs::read_link(&link).unwrap();
    assert!(target.starts_with("/dev/pts/") && target != *"/dev/pts/9999");
    // A symlink to anything else is not replaced either.
    let other = dir.path().join("other");
    std::os::unix::fs::symlink(&file, &other).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--pty", "--pty-link", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    drop(server);
}
