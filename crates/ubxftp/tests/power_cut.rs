//! A power cut, as a real `kill -9` of the process (docs/SECURITY.md, "at a power cut"): every
//! module file holds what it held before the interrupted write or its complete new content;
//! what a resume can use is kept, hidden; the rest is gone at the next start.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::Server;
use test_servers::{Kind, RunningServer, ServerOptions};

/// An AT terminal over TCP, and what it sent that was not read yet.
struct Terminal(TcpStream, Vec<u8>);

impl Terminal {
    fn open(server: &Server) -> Terminal {
        let s = TcpStream::connect(server.line_with("tcp://")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut t = Terminal(s, Vec::new());
        t.cmd("ATE0", "OK\r\n");
        t
    }

    /// Sends `line` and reads until the output ends with `end`; returns what came.
    fn cmd(&mut self, line: &str, end: &str) -> String {
        self.0.write_all(format!("{line}\r").as_bytes()).unwrap();
        self.until(end)
    }

    /// Everything up to and including the first `end`.
    fn until(&mut self, end: &str) -> String {
        let end = end.as_bytes();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = self.1.windows(end.len()).position(|w| w == end) {
                let rest = self.1.split_off(at + end.len());
                let got = std::mem::replace(&mut self.1, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let n = self.0.read(&mut buf).unwrap();
            assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(&self.1));
            self.1.extend_from_slice(&buf[..n]);
        }
    }

    /// The result of the operation's URC `+UUFTPCR: <op>,`: the rest of its line.
    fn result(&mut self, op: u32) -> String {
        self.until(&format!("+UUFTPCR: {op},"));
        self.until("\r\n").trim_end().to_string()
    }

    fn login(&mut self, ftp: &RunningServer) {
        self.cmd(&format!("AT+UFTP=0,\"{}\"", ftp.addr.ip()), "OK\r\n");
        self.cmd(&format!("AT+UFTP=7,{}", ftp.addr.port()), "OK\r\n");
        self.cmd(&format!("AT+UFTP=2,\"{}\"", ftp.user), "OK\r\n");
        self.cmd(&format!("AT+UFTP=3,\"{}\"", ftp.password), "OK\r\n");
        self.cmd("AT+UFTP=6,1", "OK\r\n");
        self.cmd("AT+UFTPC=1", "+UUFTPCR: 1,1\r\n");
    }
}

fn serve(fs_dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--tcp", "127.0.0.1:0", "--fs-dir", fs_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args, 1)
}

/// The power cut: SIGKILL, and the process reaped.
fn cut(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Waits until a hidden file whose name starts with `prefix` holds more than `bytes`.
fn wait_for_hidden(dir: &Path, prefix: &str, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let size = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .max()
            .unwrap_or(0);
        if size > bytes {
            return;
        }
        assert!(Instant::now() < deadline, "{prefix}* never passed {bytes}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn ftp_server(runtime: &tokio::runtime::Runtime) -> RunningServer {
    runtime
        .block_on(test_servers::start(Kind::Vsftpd, ServerOptions::default()))
        .unwrap()
}

#[test]
fn a_cut_retrieve_over_a_file_keeps_the_old_file_and_a_resume_completes_the_new_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ftp = ftp_server(&runtime);
    let new = pattern(24 << 20, 1);
    ftp.put_file("big.bin", &new).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let old = pattern(1 << 20, 2);
    std::fs::write(dir.path().join("keep.bin"), &old).unwrap();

    // 40 Mbit/s: six seconds for the file, time enough to cut it half-way.
    let server = serve(dir.path(), &["--link", "down=40mbit"]);
    let mut t = Terminal::open(&server);
    t.login(&ftp);
    t.cmd("AT+UFTPC=4,\"big.bin\",\"keep.bin\"", "OK\r\n");
    wait_for_hidden(dir.path(), ".ubxftp-part-", 2 << 20);
    cut(server);
    assert!(std::fs::read(dir.path().join("keep.bin")).unwrap() == old);

    let server = serve(dir.path(), &[]);
    let mut t = Terminal::open(&server);
    assert_eq!(
        t.cmd("AT+ULSTFILE=2,\"keep.bin\"", "OK\r\n"),
        "\r\n+ULSTFILE: 1048576\r\n\r\nOK\r\n"
    );
    // The hidden partial counts: free space is what the files and it leave.
    let partial: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ubxftp-part-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(partial > 2 << 20 && partial < new.len() as u64);
    let free = (1u64 << 30) - (1 << 20) - partial;
    assert_eq!(
        t.cmd("AT+ULSTFILE=1", "OK\r\n"),
        format!("\r\n+ULSTFILE: {free}\r\n\r\nOK\r\n")
    );
    t.login(&ftp);
    t.cmd("AT+UFTPC=4,\"big.bin\",\"keep.bin\",1", "OK\r\n");
    assert_eq!(t.result(4), "1");
    assert!(std::fs::read(dir.path().join("keep.bin")).unwrap() == new);
    // The resume continued from the partial, not from the start.
    assert!(
        ftp.read_logs().contains(&format!("REST {partial}")),
        "no REST {partial}"
    );
    assert_eq!(names(dir.path()), ["keep.bin"]);
}

#[test]
fn a_cut_fota_download_leaves_the_old_image_and_nothing_hidden_after_the_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ftp = ftp_server(&runtime);
    let dir = tempfile::tempdir().unwrap();
    ftp.put_file("fw1.bin", pattern(100_000, 3)).unwrap();
    ftp.put_file("fw2.bin", pattern(16 << 20, 4)).unwrap();

    let server = serve(dir.path(), &["--link", "down=40mbit"]);
    let mut t = Terminal::open(&server);
    t.login(&ftp);
    t.cmd("AT+UFTPC=100,\"fw1.bin\"", "OK\r\n");
    t.until("+UUFTPCR: 100,1,\"");
    t.until("\r\n");
    t.cmd("AT+UFTPC=100,\"fw2.bin\"", "OK\r\n");
    wait_for_hidden(dir.path(), ".ubxftp-fota-part", 1 << 20);
    cut(server);
    // The complete image of fw1 is still the image.
    assert_eq!(
        std::fs::read(dir.path().join(".ubxftp-fota")).unwrap(),
        pattern(100_000, 3)
    );

    // Which download was cut is forgotten at the restart: nothing can resume it, so it goes,
    // and the free space is true again.
    let server = serve(dir.path(), &[]);
    let mut t = Terminal::open(&server);
    assert_eq!(names(dir.path()), [".ubxftp-fota"]);
    let free = (1u64 << 30) - 100_000;
    assert_eq!(
        t.cmd("AT+ULSTFILE=1", "OK\r\n"),
        format!("\r\n+ULSTFILE: {free}\r\n\r\nOK\r\n")
    );
}

#[test]
fn a_cut_udwnfile_append_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log.txt"), b"first line\n").unwrap();
    let server = serve(dir.path(), &[]);
    let mut t = Terminal::open(&server);
    t.cmd("AT+UDWNFILE=\"log.txt\",100000", ">");
    t.0.write_all(&[b'x'; 60_000]).unwrap();
    // The module has taken the bytes it was sent: the cut comes mid-payload.
    std::thread::sleep(Duration::from_millis(300));
    cut(server);
    let server = serve(dir.path(), &[]);
    let mut t = Terminal::open(&server);
    assert_eq!(
        t.cmd("AT+URDFILE=\"log.txt\"", "OK\r\n"),
        "\r\n+URDFILE: \"log.txt\",11,\"first line\n\"\r\nOK\r\n"
    );
    // And an append that completes is there after a cut that follows it.
    t.cmd("AT+UDWNFILE=\"log.txt\",12", ">");
    t.0.write_all(b"second line\n").unwrap();
    t.until("OK\r\n");
    cut(server);
    assert_eq!(
        std::fs::read(dir.path().join("log.txt")).unwrap(),
        b"first line\nsecond line\n"
    );
    assert_eq!(names(dir.path()), ["log.txt"]);
}
