//! A real `kill -9` of `ubxftp serve` while `AT+USECMNG=0` imports a key (issue 20, item 2): after
//! the restart on the same `--fs-dir`, the item holds its old key or the complete new one (a new
//! name: absent, or complete), never a fragment; nothing of the cut write is left in the store's
//! folder, and its files are still 0600.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Server;

/// An AT terminal over TCP, echo off, verbose errors.
struct Terminal {
    stream: TcpStream,
}

impl Terminal {
    fn connect(server: &Server) -> Terminal {
        let stream = TcpStream::connect(server.line_with("tcp://")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut terminal = Terminal { stream };
        terminal.command("ATE0", b"OK\r\n");
        terminal.command("AT+CMEE=2", b"OK\r\n");
        terminal
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// What arrives until `end` (included), within 20 s.
    fn until(&mut self, end: &[u8]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(end) {
            assert!(
                Instant::now() < deadline,
                "waited for {:?}, got {:?}",
                String::from_utf8_lossy(end),
                String::from_utf8_lossy(&got)
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("terminal closed: {:?}", String::from_utf8_lossy(&got)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// Sends `line` and reads until `end`; the answer.
    fn command(&mut self, line: &str, end: &[u8]) -> String {
        self.send(format!("{line}\r").as_bytes());
        self.until(end)
    }

    /// Starts an import of `len` bytes as key `name`: the `>` prompt has come.
    fn start_import(&mut self, name: &str, len: usize) {
        self.command(&format!("AT+USECMNG=0,2,\"{name}\",{len}"), b">");
    }

    /// Imports `pem` as key `name`; its MD5.
    fn import(&mut self, name: &str, pem: &[u8]) -> String {
        self.start_import(name, pem.len());
        self.send(pem);
        let answer = self.until(b"OK\r\n");
        md5_of(&answer).unwrap_or_else(|| panic!("import of {name}: {answer:?}"))
    }

    /// The MD5 of key `name` (`AT+USECMNG=4`), `None` when the store has no such key.
    fn md5(&mut self, name: &str) -> Option<String> {
        self.send(format!("AT+USECMNG=4,2,\"{name}\"\r").as_bytes());
        let mut answer = String::new();
        while !(answer.ends_with("OK\r\n") || answer.contains("ERROR") && answer.ends_with("\r\n"))
        {
            answer += &self.until(b"\r\n");
        }
        if answer.contains("+CME ERROR: FILE NOT FOUND") {
            return None;
        }
        Some(md5_of(&answer).unwrap_or_else(|| panic!("MD5 of {name}: {answer:?}")))
    }
}

/// The last quoted field of a `+USECMNG:` line.
fn md5_of(answer: &str) -> Option<String> {
    let line = answer.lines().find(|l| l.starts_with("+USECMNG:"))?;
    let md5 = line.trim_end().strip_suffix('"')?.rsplit('"').next()?;
    Some(md5.to_string())
}

/// A new private key in PKCS#8 PEM, made by the `openssl` command line (the TLS test servers
/// need it already): `spec` are `genpkey`'s arguments.
fn openssl_key(dir: &Path, name: &str, spec: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let run = Command::new("openssl")
        .arg("genpkey")
        .args(spec)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl");
    assert!(
        run.status.success(),
        "openssl genpkey {spec:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(out).unwrap()
}

fn serve(fs_dir: &Path) -> Server {
    let dir = fs_dir.to_str().unwrap();
    Server::start(&["--tcp", "127.0.0.1:0", "--fs-dir", dir], 1)
}

/// Where in the import the process is killed.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// With `n` bytes of the payload sent.
    InPayload(usize),
    /// This long after the whole payload was sent, before its answer.
    After(Duration),
    /// Once the answer came.
    Answered,
}

/// SIGKILL (`Child::kill` on Unix), and the process reaped.
fn kill_9(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// The keys' folder after a restart: no temporary of the cut write, every file 0600.
fn check_store_folder(fs_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(fs_dir.join(".ubxftp-security/PK")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".ubxftp"), "left in the store: {name}");
        let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "{name}");
    }
}

#[test]
fn a_kill_9_during_a_key_import_leaves_the_old_key_or_the_complete_new_one() {
    let keys = tempfile::tempdir().unwrap();
    let old = openssl_key(
        keys.path(),
        "old.pem",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    // The largest key the module takes from a common tool: RSA 4096 (3.2 KB of PEM).
    let new = openssl_key(
        keys.path(),
        "new.pem",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    );
    let fs_dir = tempfile::tempdir().unwrap();
    let server = serve(fs_dir.path());
    let mut terminal = Terminal::connect(&server);
    let old_md5 = terminal.import("ref-old", &old);
    let new_md5 = terminal.import("ref-new", &new);
    assert_ne!(old_md5, new_md5);
    drop(terminal);
    let mut server = Some(server);

    let mut cuts = vec![
        Cut::InPayload(1),
        Cut::InPayload(new.len() / 2),
        Cut::InPayload(new.len() - 1),
        Cut::Answered,
    ];
    cuts.extend([0, 0, 1, 2, 3, 5, 8, 13, 20].map(|ms| Cut::After(Duration::from_millis(ms))));
    let mut outcomes = Vec::new();
    for (round, cut) in cuts.into_iter().enumerate() {
        // Even rounds replace "key", which holds the old key; odd rounds add a new name.
        let replacing = round % 2 == 0;
        let name = if replacing {
            "key".to_string()
        } else {
            format!("new{round}")
        };
        let running = server.take().unwrap_or_else(|| serve(fs_dir.path()));
        let mut terminal = Terminal::connect(&running);
        if replacing {
            assert_eq!(terminal.import(&name, &old), old_md5);
        }
        terminal.start_import(&name, new.len());
        match cut {
            Cut::InPayload(n) => {
                terminal.send(&new[..n]);
                std::thread::sleep(Duration::from_millis(50));
            }
            Cut::After(pause) => {
                terminal.send(&new);
                std::thread::sleep(pause);
            }
            Cut::Answered => {
                terminal.send(&new);
                terminal.until(b"OK\r\n");
            }
        }
        kill_9(running);
        // What a cut between the temporary's creation and its rename leaves (a window too
        // narrow to hit by timing): the store must not take it for the item, and must remove it.
        let temporary = fs_dir
            .path()
            .join(format!(".ubxftp-security/PK/.ubxftp-tmp-{name}"));
        if !temporary.exists() {
            std::fs::write(&temporary, &new[..new.len() / 2]).unwrap();
        }

        let restarted = serve(fs_dir.path());
        let mut terminal = Terminal::connect(&restarted);
        let found = terminal.md5(&name);
        let expected_before = replacing.then(|| old_md5.clone());
        match cut {
            Cut::InPayload(_) => assert_eq!(found, expected_before, "{cut:?}: {name}"),
            Cut::Answered => assert_eq!(found.as_ref(), Some(&new_md5), "{cut:?}: {name}"),
            Cut::After(_) => assert!(
                found == expected_before || found.as_ref() == Some(&new_md5),
                "{cut:?}: {name} holds {found:?}, neither {expected_before:?} nor {new_md5}"
            ),
        }
        // The list agrees, and the folder holds nothing of the cut write.
        let list = terminal.command("AT+USECMNG=3", b"OK\r\n");
        assert_eq!(
            list.contains(&format!("\"PK\",\"{name}\"")),
            found.is_some(),
            "{list}"
        );
        check_store_folder(fs_dir.path());
        outcomes.push((cut, found == Some(new_md5.clone())));
        drop(terminal);
        server = Some(restarted);
    }
    eprintln!("cut → new key complete: {outcomes:?}");
}
