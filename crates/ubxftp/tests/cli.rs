//! The binary's contract: `serve --tcp` prints `tcp://HOST:PORT`, every TCP connection is a
//! terminal of the same module, `--pty` survives a host closing and reopening the device,
//! SIGTERM shuts down cleanly, and `script` runs a transcript and names the failing line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::Server;

/// Opens a tty device non-blocking, so that [`read_until`]'s deadline holds for it too.
fn open_tty(path: impl AsRef<std::path::Path>) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .unwrap()
}

/// Reads until `end` arrives or 5 s pass.
fn read_until(r: &mut impl Read, end: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(end) {
        assert!(Instant::now() < deadline, "timed out; got {got:?}");
        match r.read(&mut buf) {
            Ok(0) => panic!("closed; got {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    got
}

#[test]
fn tcp_connections_are_terminals_of_one_module() {
    let server = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    let addr = server.line_with("tcp://");
    let mut a = TcpStream::connect(&addr).unwrap();
    let mut b = TcpStream::connect(&addr).unwrap();
    a.write_all(b"ATE0\r\nAT+UDWNFILE=\"t\",2\r\n").unwrap();
    assert_eq!(read_until(&mut a, b">"), b"ATE0\r\r\nOK\r\n>");
    a.write_all(b"hi").unwrap();
    assert_eq!(read_until(&mut a, b"OK\r\n"), b"\r\nOK\r\n");
    // The other terminal sees the same file system, with its own (factory) echo setting.
    b.write_all(b"AT+URDFILE=\"t\"\r\n").unwrap();
    assert_eq!(
        read_until(&mut b, b"OK\r\n"),
        b"AT+URDFILE=\"t\"\r\r\n+URDFILE: \"t\",2,\"hi\"\r\nOK\r\n"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_exit(&mut server.child);
    assert!(status.success(), "{status}");
}

/// SIGTERM while the PTY terminal waits inside a command (a `+UDWNFILE` payload, whose stall
/// timer is running): the PTY's own thread is stopped while the runtime is still there, so the
/// process ends cleanly, with no panic, and the `--pty-link` symlink is gone.
#[test]
fn sigterm_mid_command_on_a_pty_ends_cleanly_and_removes_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--pty", "--pty-link", link.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert!(ready.starts_with("pty: "), "{ready}");
    let mut dev = open_tty(&link);
    dev.write_all(b"ATE0\rAT+UDWNFILE=\"f\",100\r").unwrap();
    read_until(&mut dev, b">");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link is still there"
    );
}

#[test]
fn pty_survives_the_host_closing_and_reopening_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let server = Server::start(&["--pty", "--pty-link", link.to_str().unwrap()], 1);
    let path = server.line_with("pty: ");
    assert!(path.starts_with("/dev/pts/"), "{path}");
    assert_eq!(std::fs::read_link(&link).unwrap().to_str().unwrap(), path);
    for round in 0..3 {
        let mut dev = open_tty(&link);
        dev.write_all(b"AT+CGMI\r\n").unwrap();
        let got = read_until(&mut dev, b"OK\r\n");
        assert_eq!(got, b"AT+CGMI\r\r\nu-blox\r\n\r\nOK\r\n", "round {round}");
    }
}

#[test]
fn script_runs_a_transcript_and_names_the_failing_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.txt");
    std::fs::write(&good, "> AT\n< AT\\r\\r\\nOK\\r\\n\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("script")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "# a comment\n> AT\n< AT\\r\\r\\nERROR\\r\\n\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("script")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("{}:3: ", bad.display())), "{err}");
}

#[test]
fn script_connects_to_a_module_over_tcp() {
    let server = Server::start(&["--tcp", "127.0.0.1:0"], 1);
    let addr = server.line_with("tcp://");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.txt");
    std::fs::write(
        &file,
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+CGMM\n< \\r\\nLEXI-R10401D\\r\\n\\r\\nOK\\r\\n\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("script")
        .arg(&file)
        .arg("--connect")
        .arg(format!("tcp://{addr}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ubxftp demo` with its console on pipes, past its introduction.
fn start_demo() -> (
    std::process::Child,
    std::process::ChildStdin,
    std::process::ChildStdout,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("demo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    read_until(&mut stdout, b"ends the demo.\n\n");
    (child, stdin, stdout)
}

#[test]
fn demo_logs_in_lists_and_gets_with_nothing_installed() {
    let (mut child, mut stdin, mut stdout) = start_demo();
    stdin.write_all(b"ATE0\rAT+UFTPC=1\r").unwrap();
    assert_eq!(
        read_until(&mut stdout, b"+UUFTPCR: 1,1\r\n"),
        b"ATE0\r\r\nOK\r\n\r\nOK\r\n\r\n+UUFTPCR: 1,1\r\n"
    );
    stdin
        .write_all(b"AT+UFTPC=4,\"readme.txt\",\"readme.txt\"\r")
        .unwrap();
    assert_eq!(
        read_until(&mut stdout, b"+UUFTPCR: 4,1\r\n"),
        b"\r\nOK\r\n\r\n+UUFTPCR: 4,1\r\n"
    );
    stdin.write_all(b"AT+URDFILE=\"readme.txt\"\r").unwrap();
    assert_eq!(
        read_until(&mut stdout, b"OK\r\n"),
        b"\r\n+URDFILE: \"readme.txt\",35,\"Hello from the ubxftp demo server!\n\"\r\nOK\r\n"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn serial_transport_answers_on_a_tty() {
    // A pseudo-terminal stands in for the serial line: ubxftp opens the slave side as a serial
    // port (tokio-serial sets its own raw mode), the test talks through the master side.
    let pair = nix::pty::openpty(None, None).unwrap();
    let path = nix::unistd::ttyname(&pair.slave).unwrap();
    let server = Server::start(&["--serial", path.to_str().unwrap(), "--baud", "921600"], 1);
    assert!(
        server.lines[0].starts_with("serial: "),
        "{:?}",
        server.lines
    );
    let mut master = std::fs::File::from(pair.master);
    master.write_all(b"ATE0\r\nAT+CGMM\r\n").unwrap();
    assert_eq!(
        read_until(&mut master, b"LEXI-R10401D\r\n\r\nOK\r\n"),
        b"ATE0\r\r\nOK\r\n\r\nLEXI-R10401D\r\n\r\nOK\r\n"
    );
}

/// Waits up to 5 s for the process to exit and returns its status.
fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tcp_and_pty_at_once_share_one_module_and_sigint_keeps_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let fs_dir = dir.path().join("fs");
    let args = [
        "--tcp",
        "127.0.0.1:0",
        "--pty",
        "--fs-dir",
        fs_dir.to_str().unwrap(),
        "--dns",
        "ftp.vendor.example=192.0.2.7",
        "--dns",
        "v6.vendor.example=2001:db8::7",
    ];
    let mut server = Server::start(&args, 2);
    let mut tcp = TcpStream::connect(server.line_with("tcp://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut pty = open_tty(server.line_with("pty: "));
    // A file written over TCP is read over the PTY: one module file system.
    tcp.write_all(b"ATE0\rAT+UDWNFILE=\"kept.txt\",5\r")
        .unwrap();
    assert_eq!(read_until(&mut tcp, b">"), b"ATE0\r\r\nOK\r\n>");
    tcp.write_all(b"hello").unwrap();
    assert_eq!(read_until(&mut tcp, b"OK\r\n"), b"\r\nOK\r\n");
    pty.write_all(b"AT+URDFILE=\"kept.txt\"\r").unwrap();
    assert_eq!(
        read_until(&mut pty, b"OK\r\n"),
        b"AT+URDFILE=\"kept.txt\"\r\r\n+URDFILE: \"kept.txt\",5,\"hello\"\r\nOK\r\n"
    );
    // Both --dns overrides answer, IPv4 and IPv6.
    pty.write_all(b"AT+UDNSRN=0,\"ftp.vendor.example\"\r")
        .unwrap();
    assert_eq!(
        read_until(&mut pty, b"\"192.0.2.7\"\r\n"),
        b"AT+UDNSRN=0,\"ftp.vendor.example\"\r\r\nOK\r\n\r\n+UUDNSRN: 0,\"192.0.2.7\"\r\n"
    );
    pty.write_all(b"AT+UDNSRN=0,\"v6.vendor.example\",1,1,1\r")
        .unwrap();
    assert_eq!(
        read_until(&mut pty, b"\"2001:DB8::7\"\r\n"),
        b"AT+UDNSRN=0,\"v6.vendor.example\",1,1,1\r\r\nOK\r\n\r\n+UUDNSRN: 0,\"2001:DB8::7\"\r\n"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_exit(&mut server.child);
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read(fs_dir.join("kept.txt")).unwrap(), b"hello");
    // A new run on the same folder finds the file.
    let server = Server::start(
        &["--tcp", "127.0.0.1:0", "--fs-dir", fs_dir.to_str().unwrap()],
        1,
    );
    let mut tcp = TcpStream::connect(server.line_with("tcp://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"AT+ULSTFILE=0\r").unwrap();
    assert_eq!(
        read_until(&mut tcp, b"OK\r\n"),
        b"AT+ULSTFILE=0\r\r\n+ULSTFILE: \"kept.txt\"\r\n\r\nOK\r\n"
    );
}

/// A PTY host that stops reading in the middle of a long answer: the module waits for it (its
/// writes would block: the PTY terminal's own thread sleeps until the master is writable again)
/// while other terminals go on answering, and then every byte arrives, in order.
#[test]
fn a_pty_host_that_stops_reading_gets_every_byte_later() {
    let dir = tempfile::tempdir().unwrap();
    let fs_dir = dir.path().join("fs");
    std::fs::create_dir_all(&fs_dir).unwrap();
    // Far more than the kernel buffers of a PTY (a few KiB in the line discipline, 64 KiB of
    // flip buffers), so the module's writes must wait for the host.
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(fs_dir.join("big.bin"), &content).unwrap();
    let server = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--pty",
            "--fs-dir",
            fs_dir.to_str().unwrap(),
        ],
        2,
    );
    let mut pty = open_tty(server.line_with("pty: "));
    let mut tcp = TcpStream::connect(server.line_with("tcp://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    pty.write_all(b"ATE0\r").unwrap();
    assert_eq!(read_until(&mut pty, b"OK\r\n"), b"ATE0\r\r\nOK\r\n");
    pty.write_all(b"AT+URDFILE=\"big.bin\"\r").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The PTY terminal is stuck on its host; the module is not.
    tcp.write_all(b"AT\r").unwrap();
    assert_eq!(read_until(&mut tcp, b"OK\r\n"), b"AT\r\r\nOK\r\n");
    let mut expected = b"\r\n+URDFILE: \"big.bin\",300000,\"".to_vec();
    expected.extend_from_slice(&content);
    expected.extend_from_slice(b"\"\r\nOK\r\n");
    let got = read_until(&mut pty, b"\"\r\nOK\r\n");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the answer differs from the file");
    // And the PTY terminal answers again.
    pty.write_all(b"AT\r").unwrap();
    assert_eq!(read_until(&mut pty, b"OK\r\n"), b"\r\nOK\r\n");
}

#[test]
fn a_malformed_dns_override_is_refused_at_start() {
    let stderr = support::refused(
        "serve",
        &["--tcp", "127.0.0.1:0", "--dns", "no-equals-sign"],
    );
    assert!(stderr.contains("--dns"), "{stderr}");
}

#[test]
fn script_connects_to_a_module_over_a_tty_device() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--pty"], 1);
    let path = server.line_with("pty: ");
    let transcript = dir.path().join("t.txt");
    std::fs::write(
        &transcript,
        "> ATE0\n< ATE0\\r\\r\\nOK\\r\\n\n> AT+CGMM\n< \\r\\nLEXI-R10401D\\r\\n\\r\\nOK\\r\\n\nquiet 100\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("script")
        .arg(&transcript)
        .args(["--connect", &path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Logs a terminal into `vsftpd` (echo off, a 0.1 s guard time).
fn direct_link_login(t: &mut (impl Read + Write), vsftpd: &test_servers::RunningServer) {
    let lines = [
        "ATE0".to_string(),
        "ATS12=5".into(),
        format!("AT+UFTP=0,\"{}\"", vsftpd.addr.ip()),
        format!("AT+UFTP=7,{}", vsftpd.addr.port()),
        format!("AT+UFTP=2,\"{}\"", vsftpd.user),
        format!("AT+UFTP=3,\"{}\"", vsftpd.password),
        "AT+UFTP=6,1".into(),
    ];
    for line in lines {
        t.write_all(format!("{line}\r").as_bytes()).unwrap();
        read_until(t, b"OK\r\n");
    }
    t.write_all(b"AT+UFTPC=1\r").unwrap();
    assert_eq!(
        read_until(t, b"+UUFTPCR: 1,1\r\n"),
        b"\r\nOK\r\n\r\n+UUFTPCR: 1,1\r\n"
    );
}

/// Every byte value, `+++`, `OK`, `DISCONNECT` and the tty's special characters (^C, ^D, ^S,
/// ^Q, DEL) through a store and a retrieve, over TCP and over the PTY: data mode is transparent
/// on both transports.
#[test]
fn direct_link_is_transparent_over_tcp_and_pty() {
    let vsftpd = test_servers::start_blocking(
        test_servers::Kind::Vsftpd,
        test_servers::ServerOptions::default(),
    )
    .unwrap();
    let mut file = b"+++\r\nOK\r\nDISCONNECT\r\n\x03\x04\x11\x13\x7f".to_vec();
    file.extend((0..20_000).map(|i| (i % 256) as u8));
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--pty"], 2);
    let mut tcp = TcpStream::connect(server.line_with("tcp://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut pty = open_tty(server.line_with("pty: "));
    for (name, mut t) in [
        ("tcp.bin", &mut tcp as &mut dyn ReadWrite),
        ("pty.bin", &mut pty as &mut dyn ReadWrite),
    ] {
        direct_link_login(&mut t, &vsftpd);
        t.write_all(format!("AT+UFTPC=7,\"{name}\"\r").as_bytes())
            .unwrap();
        assert_eq!(read_until(&mut t, b"CONNECT\r\n"), b"\r\nCONNECT\r\n");
        write_all_slowly(t, &file);
        std::thread::sleep(Duration::from_millis(300));
        t.write_all(b"+++").unwrap();
        assert_eq!(
            read_until(&mut t, b"+UUFTPCR: 7,1\r\n"),
            b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n"
        );
        assert!(
            std::fs::read(vsftpd.root.join(name)).unwrap() == file,
            "{name}"
        );
        t.write_all(format!("AT+UFTPC=6,\"{name}\"\r").as_bytes())
            .unwrap();
        let mut expected = b"\r\nCONNECT\r\n".to_vec();
        expected.extend_from_slice(&file);
        expected.extend_from_slice(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n");
        assert!(
            read_until(&mut t, b"+UUFTPCR: 6,1\r\n") == expected,
            "{name}"
        );
        t.write_all(b"AT+UFTPC=0\r").unwrap();
        read_until(&mut t, b"+UUFTPCR: 0,1\r\n");
    }
}

/// Direct link on the console (`demo`, stdin and stdout as pipes): the demo's file comes out
/// between `CONNECT` and `DISCONNECT`.
#[test]
fn direct_link_on_the_console() {
    let (mut child, mut stdin, mut stdout) = start_demo();
    stdin.write_all(b"ATE0\rAT+UFTPC=1\r").unwrap();
    read_until(&mut stdout, b"+UUFTPCR: 1,1\r\n");
    stdin.write_all(b"AT+UFTPC=6,\"readme.txt\"\r").unwrap();
    assert_eq!(
        read_until(&mut stdout, b"+UUFTPCR: 6,1\r\n"),
        &b"\r\nCONNECT\r\nHello from the ubxftp demo server!\n\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n"[..]
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// Read + Write as one object, for a loop over transports.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Writes everything, waiting when a non-blocking tty is full.
fn write_all_slowly(w: &mut (impl Write + ?Sized), mut data: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !data.is_empty() {
        assert!(Instant::now() < deadline, "write timed out");
        match w.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

#[test]
fn a_serial_port_takes_the_rate_of_at_ipr_after_its_ok() {
    use std::io::BufRead;
    let pair = nix::pty::openpty(None, None).unwrap();
    let path = nix::unistd::ttyname(&pair.slave).unwrap();
    // A pseudo-terminal carries bytes at any rate, and serialport sets rates as BOTHER, which
    // termios cannot read back portably: the port's own report of the change is the evidence.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--serial", path.to_str().unwrap()])
        .env("RUST_LOG", "ubxftp=info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("115200"), "{ready}");
    let mut master = std::fs::File::from(pair.master);
    master.write_all(b"ATE0\r\nAT+IPR=9600\r\n").unwrap();
    assert_eq!(
        read_until(&mut master, b"\r\nOK\r\n\r\nOK\r\n"),
        b"ATE0\r\r\nOK\r\n\r\nOK\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .any(|l| l.contains("serial port rate changed") && l.contains("9600"))
    {
        assert!(
            Instant::now() < deadline,
            "no rate change: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    master.write_all(b"AT+IPR?\r\n").unwrap();
    assert_eq!(
        read_until(&mut master, b"OK\r\n"),
        b"\r\n+IPR: 9600\r\n\r\nOK\r\n"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn models_lists_every_model_and_model_takes_cgmm_names() {
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .arg("models")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ["lexi-r10", "sara-r5", "sara-r4", "sara-u201"] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing: {text}"
        );
    }
    // A +CGMM string of the family (prefix of an alias) picks the model.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("cgmm.txt");
    std::fs::write(
        &t,
        "> AT+CGMM\n< AT+CGMM\\r\\r\\nSARA-R510S\\r\\n\\r\\nOK\\r\\n\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["script", t.to_str().unwrap(), "--model", "SARA-R510M8Q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_model_is_refused_with_the_known_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(["serve", "--tcp", "127.0.0.1:0", "--model", "sara-r9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown model \"sara-r9\""), "{err}");
    for id in ["lexi-r10", "sara-r4", "sara-r5", "sara-u201"] {
        assert!(err.contains(id), "{id} not listed: {err}");
    }
    assert!(out.stdout.is_empty(), "nothing started");
}

/// Runs `ubxftp ARGS` to the end.
fn ubxftp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ubxftp"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_model_file_adds_a_model_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = include_str!("../../ubx-modem/models/sara-r5.toml");
    let file = dir.path().join("my-r5.toml");
    std::fs::write(
        &file,
        builtin
            .replace("id = \"sara-r5\"", "id = \"my-r5\"")
            .replace("model = \"SARA-R510S\"", "model = \"SARA-R500S\""),
    )
    .unwrap();
    let t = dir.path().join("cgmm.txt");
    std::fs::write(
        &t,
        "> AT+CGMM\n< AT+CGMM\\r\\r\\nSARA-R500S\\r\\n\\r\\nOK\\r\\n\n",
    )
    .unwrap();
    let out = ubxftp(&["script", path(&t), "--model-file", path(&file)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A typo in a key is refused, naming it.
    std::fs::write(&file, builtin.replace("fota_md5", "fota_mdd5")).unwrap();
    let out = ubxftp(&["script", path(&t), "--model-file", path(&file)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fota_mdd5"), "{err}");
}

#[test]
fn bad_field_conditions_are_refused_before_anything_starts() {
    let err = support::refused("serve", &["--tcp", "127.0.0.1:0", "--link", "down=fast"]);
    assert!(err.contains("down") && err.contains("fast"), "{err}");
    let err = support::refused("serve", &["--tcp", "127.0.0.1:0", "--link", "down=0bit"]);
    assert!(err.contains("100bit"), "{err}");
    let err = support::refused("serve", &["--tcp", "127.0.0.1:0", "--baud", "0"]);
    assert!(err.contains("--baud"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(
        &faults,
        "[[fault]]\ntarget = \"ftp-data\"\naction = \"reset\"\n\n[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\ncid = 99\n",
    )
    .unwrap();
    let err = support::refused(
        "serve",
        &["--tcp", "127.0.0.1:0", "--faults", path(&faults)],
    );
    assert!(
        err.contains("line 5") && err.contains("unknown cid 99"),
        "{err}"
    );
    let err = support::refused("serve", &["--tcp", "127.0.0.1:0", "--control", "0.0.0.0:0"]);
    assert!(err.contains("--control-remote"), "{err}");
}

#[test]
fn the_control_api_and_ctl_share_one_validator() {
    let server = Server::start(
        &[
            "--tcp",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--link",
            "lte-m",
        ],
        3,
    );
    let url = server.line_with("control: ");
    // `ctl` finds the token in the file `serve` wrote for the port.
    let ctl = |words: &[&str]| {
        let mut args = vec!["ctl", url.as_str(), "--json"];
        args.extend_from_slice(words);
        server.ubxftp(&args)
    };
    let out = ctl(&["fault", "add", "target=ftp-data", "action=reset", "on_op=4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{\"id\":1}");
    // The same refusal as the scenario file's, as an HTTP 400 that names the field.
    let out = ctl(&[
        "fault",
        "add",
        "target=ftp-data",
        "action=reply",
        "code=421",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("400") && err.contains("action"), "{err}");
    let out = ctl(&["faults"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("\"fired\":0") && listed.contains("\"on_op\":4"),
        "{listed}"
    );
    let out = ctl(&["link", "down=1mbit,rtt=100ms"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("down=1000kbit"));
    let out = ctl(&["link", "down=1parsec"]);
    assert!(!out.status.success());
    let out = ctl(&["state"]);
    let state = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        state.contains("\"model\":\"lexi-r10\"") && state.contains("\"rtt_ms\":100"),
        "{state}"
    );
    assert!(ctl(&["faults", "clear"]).status.success());
    assert_eq!(
        String::from_utf8_lossy(&ctl(&["faults"]).stdout).trim(),
        "[]"
    );
    // A fleet's paths address module 0 here; another id is not found.
    let out = ctl(&["state"]);
    assert!(out.status.success());
    let out = server.ubxftp(&["ctl", &format!("{url}/modems/3"), "faults"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
}

#[test]
fn a_tcp_terminal_with_baud_is_paced() {
    // 9600 bit/s: 960 bytes/s. `AT+CGMM` and its answer are 31 bytes: about 32 ms each way.
    let server = Server::start(&["--tcp", "127.0.0.1:0", "--baud", "9600"], 1);
    let addr = server.line_with("tcp://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"ATE0\r\n").unwrap();
    assert_eq!(read_until(&mut s, b"OK\r\n"), b"ATE0\r\r\nOK\r\n");
    s.write_all(b"AT+CGMM\r\n").unwrap();
    assert_eq!(
        read_until(&mut s, b"OK\r\n"),
        b"\r\nLEXI-R10401D\r\n\r\nOK\r\n"
    );
    // The rate the terminal runs at is the module's +IPR.
    s.write_all(b"AT+IPR?\r\n").unwrap();
    assert_eq!(
        read_until(&mut s, b"OK\r\n"),
        b"\r\n+IPR: 9600\r\n\r\nOK\r\n"
    );
}
