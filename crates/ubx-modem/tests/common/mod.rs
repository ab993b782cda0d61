//! Shared test support: an in-process module and transcript runs against it.

#![allow(dead_code)]

use std::path::Path;

use test_servers::transcript::{Environment, Options};
use tokio::io::DuplexStream;
use ubx_modem::model::Model;
use ubx_modem::{Modem, ModemConfig};
use ubx_transcript::{Header, Transcript, Vars};

/// The module a transcript's header asks for (`# model:`, `# fs-size:`, `# dns:`, `# route:`;
/// ubx_transcript::header), on `model` unless the header names one; `vars` fills the routes'
/// placeholders.
pub fn config_from_header(
    header: &Header,
    vars: &Vars,
    model: &'static Model,
) -> Result<ModemConfig, String> {
    let mut config = ModemConfig {
        model,
        ..ModemConfig::default()
    };
    if let Some((line, name)) = &header.model {
        config.model =
            Model::by_name(name).ok_or_else(|| format!("line {line}: unknown model {name:?}"))?;
    }
    if let Some(size) = header.fs_size {
        config.fs_size = size;
    }
    for (line, route) in &header.routes {
        let route =
            ubx_transcript::header::substitute(route, vars, *line).map_err(|e| e.to_string())?;
        config
            .routes
            .0
            .push(route.parse().map_err(|e| format!("line {line}: {e}"))?);
    }
    config.dns_overrides.extend(header.dns.iter().cloned());
    Ok(config)
}

/// A module of the default model whose connections go over the link `spec` (`--link`).
pub fn modem_with_link(spec: &str) -> Modem {
    Modem::new(ModemConfig {
        field: ubx_modem::field::FieldConfig {
            link: ubx_modem::field::spec::LinkSpec::parse(spec).expect("link spec"),
            ..ubx_modem::field::FieldConfig::default()
        },
        ..ModemConfig::default()
    })
    .expect("module")
}

/// Starts a terminal on `modem` and returns the host's end of it.
pub fn connect(modem: &Modem) -> DuplexStream {
    let (host, device) = tokio::io::duplex(1 << 20);
    let modem = modem.clone();
    tokio::spawn(async move { ubx_terminal::driver::serve(&modem, device, None).await });
    host
}

/// A host on a terminal of `modem` paced as a UART at `baud` bit/s, echo off.
pub async fn paced_host(modem: &Modem, baud: u32) -> AtHost {
    let (host, device) = tokio::io::duplex(1 << 20);
    let modem = modem.clone();
    tokio::spawn(async move {
        let lines = ubx_terminal::driver::HostLines {
            pace: Some(baud),
            ..Default::default()
        };
        ubx_terminal::driver::serve_with_lines(&modem, device, None, lines).await
    });
    let mut host = AtHost::from_stream(host);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    host
}

/// The bound on what a host at 9600 baud may receive after its `+++`: the line's second of
/// guard time (960 bytes), what the module holds for the line (`HOST_WINDOW`), and the 1500
/// bytes [`AtHost::escape_mid_stream`] may have read with its first part already.
pub const AFTER_ESCAPE_AT_9600: usize = 960 + ubx_modem::data_link::HOST_WINDOW + 1500;

/// Runs a transcript text against `modem` on a fresh terminal.
pub async fn run_on(modem: &Modem, text: &str) -> Result<(), String> {
    let transcript = Transcript::parse(text).map_err(|e| e.to_string())?;
    let mut host = connect(modem);
    transcript.run(&mut host).await.map_err(|e| e.to_string())
}

/// Runs a transcript file against a fresh module configured by its header
/// (ubx_transcript::header): the servers it names are started first
/// (test_servers::transcript) and its placeholders replaced by their addresses and logins.
pub async fn run_file(path: &Path) -> Result<Modem, String> {
    run_file_as(path, ubx_modem::model::default_model()).await
}

/// [`run_file`] on a module of `model` (unless the header names one).
pub async fn run_file_as(path: &Path, model: &'static Model) -> Result<Modem, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let header = Header::parse(&text).map_err(|e| e.in_file(&file))?;
    let env = Environment::start(&header, &Options::default()).await?;
    let transcript = Transcript::parse_with(&text, &env.vars).map_err(|e| e.in_file(&file))?;
    let config =
        config_from_header(&header, &env.vars, model).map_err(|e| format!("{file}: {e}"))?;
    let modem = Modem::new(config).map_err(|e| e.to_string())?;
    let mut host = connect(&modem);
    transcript
        .run(&mut host)
        .await
        .map_err(|e| format!("\n{}", e.in_file(&file)))?;
    Ok(modem)
}

/// A host talking to one terminal, with exact-bytes expectations.
pub struct AtHost {
    pub io: DuplexStream,
    unread: Vec<u8>,
}

impl AtHost {
    /// A new terminal on `modem`, with echo turned off.
    pub async fn connect(modem: &Modem) -> AtHost {
        let mut host = AtHost::from_stream(connect(modem));
        host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
        host
    }

    /// A host on a stream the caller connected.
    pub fn from_stream(io: DuplexStream) -> AtHost {
        AtHost {
            io,
            unread: Vec::new(),
        }
    }

    pub async fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        self.io.write_all(line.as_bytes()).await.unwrap();
        self.io.write_all(b"\r\n").await.unwrap();
    }

    async fn fill(&mut self, want: usize, timeout: std::time::Duration) {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = tokio::time::Instant::now() + timeout;
        while self.unread.len() < want {
            match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.unread.extend_from_slice(&buf[..n]),
                _ => panic!(
                    "wanted {want} bytes within {timeout:?}, have {:?}",
                    String::from_utf8_lossy(&self.unread)
                ),
            }
        }
    }

    /// The next bytes must be exactly `expected`, within `secs` seconds.
    pub async fn expect_within(&mut self, expected: &[u8], secs: u64) {
        self.fill(expected.len(), std::time::Duration::from_secs(secs))
            .await;
        let got: Vec<u8> = self.unread.drain(..expected.len()).collect();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "(then unread: {:?})",
            String::from_utf8_lossy(&self.unread)
        );
    }

    pub async fn expect(&mut self, expected: &[u8]) {
        self.expect_within(expected, 2).await;
    }

    /// Sends a command and expects exactly `response`.
    pub async fn cmd(&mut self, line: &str, response: &[u8]) {
        self.send(line).await;
        self.expect(response).await;
    }

    /// Sends a command that must answer `OK`.
    pub async fn ok(&mut self, line: &str) {
        self.cmd(line, b"\r\nOK\r\n").await;
    }

    /// Sends a +UFTPC command, expects OK and then `+UUFTPCR: <op>,<result>` within `secs`.
    pub async fn ftp(&mut self, line: &str, op: u32, result: u32, secs: u64) {
        self.ok(line).await;
        self.expect_within(format!("\r\n+UUFTPCR: {op},{result}\r\n").as_bytes(), secs)
            .await;
    }

    /// Expects `+UFTPER: <class>,<code>`.
    pub async fn uftper(&mut self, class: u32, code: u32) {
        self.cmd(
            "AT+UFTPER",
            format!("\r\n+UFTPER: {class},{code}\r\n\r\nOK\r\n").as_bytes(),
        )
        .await;
    }

    /// Reads `\r\n+UUFTPCD: <op>,<len>,"` + exactly len bytes + `"\r\n`, returns the bytes.
    pub async fn data_urc(&mut self, op: u32, secs: u64) -> Vec<u8> {
        let head = format!("\r\n+UUFTPCD: {op},");
        self.expect_within(head.as_bytes(), secs).await;
        let mut digits = String::new();
        loop {
            self.fill(1, std::time::Duration::from_secs(secs)).await;
            let b = self.unread.remove(0);
            if b == b',' {
                break;
            }
            assert!(b.is_ascii_digit(), "bad length byte {b}");
            digits.push(b as char);
        }
        let len: usize = digits.parse().unwrap();
        self.expect_within(b"\"", secs).await;
        self.fill(len, std::time::Duration::from_secs(secs)).await;
        let data: Vec<u8> = self.unread.drain(..len).collect();
        self.expect_within(b"\"\r\n", secs).await;
        data
    }

    /// Reads one URC line (`\r\n...\r\n`) and returns its text.
    pub async fn urc_line(&mut self, secs: u64) -> String {
        self.expect_within(b"\r\n", secs).await;
        loop {
            if let Some(pos) = self.unread.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.unread.drain(..pos + 2).collect();
                return String::from_utf8_lossy(&line[..pos]).into_owned();
            }
            let have = self.unread.len();
            self.fill(have + 1, std::time::Duration::from_secs(secs))
                .await;
        }
    }

    /// The next `len` bytes, as they are (data mode), within `secs` seconds.
    pub async fn take(&mut self, len: usize, secs: u64) -> Vec<u8> {
        self.fill(len, std::time::Duration::from_secs(secs)).await;
        self.unread.drain(..len).collect()
    }

    /// In a direct link that is sending: 1500 bytes (more than a second at 9600 baud, so the
    /// guard time before the escape is met), then `+++`, then everything up to and including
    /// `tail` (the link's end) within `secs` seconds. Returns the data the host got, without
    /// `tail`, and how much of it came after the escape.
    pub async fn escape_mid_stream(&mut self, tail: &[u8], secs: u64) -> (Vec<u8>, usize) {
        use tokio::io::AsyncWriteExt;
        let mut got = self.take(1500, 10).await;
        self.io.write_all(b"+++").await.unwrap();
        let rest = self.take_until(tail, secs).await;
        let after = rest.len() - tail.len();
        got.extend_from_slice(&rest[..after]);
        (got, after)
    }

    /// Everything up to and including `end`, as bytes, within `secs` seconds.
    pub async fn take_until(&mut self, end: &[u8], secs: u64) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(pos) = self.unread.windows(end.len()).position(|w| w == end) {
                return self.unread.drain(..pos + end.len()).collect();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let have = self.unread.len();
            self.fill(have + 1, left).await;
        }
    }

    /// Everything up to and including `end`, as text.
    pub async fn read_until(&mut self, end: &[u8]) -> String {
        loop {
            if let Some(pos) = self.unread.windows(end.len()).position(|w| w == end) {
                let got: Vec<u8> = self.unread.drain(..pos + end.len()).collect();
                return String::from_utf8_lossy(&got).into_owned();
            }
            let have = self.unread.len();
            self.fill(have + 1, std::time::Duration::from_secs(5)).await;
        }
    }

    /// Whatever arrives until nothing has come for `ms` milliseconds.
    pub async fn drain(&mut self, ms: u64) -> String {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_millis(ms), self.io.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            self.unread.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.unread)).into_owned()
    }

    /// Nothing more arrives for `ms` milliseconds.
    pub async fn quiet(&mut self, ms: u64) {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_millis(ms), self.io.read(&mut buf)).await
        {
            self.unread.extend_from_slice(&buf[..n]);
        }
        assert!(
            self.unread.is_empty(),
            "unexpected {:?}",
            String::from_utf8_lossy(&self.unread)
        );
    }
}

/// The 42000-byte file u-blox's own driver test suite stores and retrieves: bytes 0,1,…,255,0,…
/// (the same bytes as a transcript's `>>pattern`).
pub use ubx_transcript::pattern;

/// Sets the FTP profile: server address, port, login and mode (IPv6 preferred for a v6 address).
pub async fn set_profile(
    host: &mut AtHost,
    addr: std::net::SocketAddr,
    user: &str,
    password: &str,
    passive: bool,
) {
    host.ok(&format!("AT+UFTP=0,\"{}\"", addr.ip())).await;
    host.ok(&format!("AT+UFTP=7,{}", addr.port())).await;
    host.ok(&format!("AT+UFTP=2,\"{user}\"")).await;
    host.ok(&format!("AT+UFTP=3,\"{password}\"")).await;
    host.ok(&format!("AT+UFTP=6,{}", u8::from(passive))).await;
    if addr.is_ipv6() {
        host.ok("AT+UFTP=20,1,1").await;
    }
}

/// Points the FTP profile at `server` and logs in.
pub async fn login(host: &mut AtHost, server: &test_servers::RunningServer, passive: bool) {
    set_profile(host, server.addr, &server.user, &server.password, passive).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
}

/// The driver test suite's flow (host-clients.md: u-blox's own FTP tests) against one server:
/// login, get, put 42000 bytes and get them back, list, name list, mkdir, cd, put inside, cd
/// "..", rename, delete, refusals with their exact codes, rmdir, logout. Every URC is checked
/// byte for byte; the files are checked on the server's disk and in the module file system.
pub async fn session_flow(
    server: &test_servers::RunningServer,
    modem: &Modem,
    passive: bool,
    tls: Option<bool>,
) {
    server.put_file("hello.txt", b"Hello, FTP!\n").unwrap();
    server.put_file("dir/inner.txt", b"inner").unwrap();
    let fs = modem.filesystem();
    let _ = fs.delete("pattern.bin");
    fs.append("pattern.bin", &pattern(42000)).unwrap();
    let mut host = AtHost::connect(modem).await;
    host.ok("AT+CMEE=2").await;
    if let Some(private_data) = tls {
        // FTPS without certificate validation, set explicitly: the default model's profiles
        // start at level 1 (root CA checking), and no root is imported here.
        host.ok("AT+USECPRF=0,0,0").await;
        host.ok("AT+UFTP=8,1").await;
        host.ok(&format!("AT+UFTP=12,{}", u8::from(private_data)))
            .await;
    }
    login(&mut host, server, passive).await;

    host.ftp("AT+UFTPC=4,\"hello.txt\",\"local.txt\",0", 4, 1, 20)
        .await;
    host.cmd(
        "AT+URDFILE=\"local.txt\"",
        b"\r\n+URDFILE: \"local.txt\",12,\"Hello, FTP!\n\"\r\nOK\r\n",
    )
    .await;

    host.ftp("AT+UFTPC=5,\"pattern.bin\",\"up.bin\",0", 5, 1, 20)
        .await;
    assert_eq!(
        std::fs::read(server.root.join("up.bin")).unwrap(),
        pattern(42000)
    );
    host.ftp("AT+UFTPC=4,\"up.bin\",\"back.bin\"", 4, 1, 20)
        .await;
    assert_eq!(fs.read("back.bin").unwrap(), pattern(42000));

    host.ok("AT+UFTPC=14").await;
    let names = String::from_utf8(host.data_urc(14, 20).await).unwrap();
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
    for name in ["hello.txt", "up.bin", "dir"] {
        assert!(
            names
                .lines()
                .any(|l| l.trim_end() == name || l.trim_end().ends_with(&format!("/{name}"))),
            "{name} in {names:?}"
        );
    }

    host.ok("AT+UFTPC=13").await;
    let listing = String::from_utf8(host.data_urc(13, 20).await).unwrap();
    host.expect(b"\r\n+UUFTPCR: 13,1\r\n").await;
    assert!(
        listing.contains("hello.txt") && listing.contains("up.bin"),
        "{listing:?}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains("42000") && l.contains("up.bin")),
        "sizes in ls -l form: {listing:?}"
    );

    host.ftp("AT+UFTPC=10,\"newdir\"", 10, 1, 20).await;
    assert!(server.root.join("newdir").is_dir());
    host.ftp("AT+UFTPC=8,\"newdir\"", 8, 1, 20).await;
    host.ftp("AT+UFTPC=5,\"local.txt\",\"in.txt\"", 5, 1, 20)
        .await;
    assert_eq!(
        std::fs::read(server.root.join("newdir/in.txt")).unwrap(),
        b"Hello, FTP!\n"
    );
    host.ok("AT+UFTPC=14").await;
    let inside = String::from_utf8(host.data_urc(14, 20).await).unwrap();
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
    assert!(
        inside.contains("in.txt") && !inside.contains("hello.txt"),
        "{inside:?}"
    );
    host.ftp("AT+UFTPC=8,\"..\"", 8, 1, 20).await;

    host.ftp("AT+UFTPC=3,\"up.bin\",\"renamed.bin\"", 3, 1, 20)
        .await;
    assert!(server.root.join("renamed.bin").exists() && !server.root.join("up.bin").exists());
    host.ftp("AT+UFTPC=2,\"renamed.bin\"", 2, 1, 20).await;
    assert!(!server.root.join("renamed.bin").exists());

    // Refusals carry the server's reply code.
    host.ftp("AT+UFTPC=2,\"missing.bin\"", 2, 0, 20).await;
    host.uftper(0, 550).await;
    host.ftp("AT+UFTPC=4,\"missing.bin\",\"never.bin\"", 4, 0, 20)
        .await;
    host.uftper(0, 550).await;
    assert!(
        !fs.exists("never.bin"),
        "a refused retrieve leaves no local file"
    );
    host.ftp("AT+UFTPC=8,\"no-such-dir\"", 8, 0, 20).await;
    host.uftper(0, 550).await;

    host.ftp("AT+UFTPC=2,\"newdir/in.txt\"", 2, 1, 20).await;
    host.ftp("AT+UFTPC=11,\"newdir\"", 11, 1, 20).await;
    assert!(!server.root.join("newdir").exists());

    host.ftp("AT+UFTPC=0", 0, 1, 20).await;
    host.uftper(0, 0).await;
    // After logout, operations report "not logged in".
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
    host.quiet(100).await;
}

/// Points the profile at a scripted fake server, passive mode (the scripts use PASV), no login.
pub async fn point_at_fake(host: &mut AtHost, addr: std::net::SocketAddr) {
    host.ok(&format!("AT+UFTP=0,\"{}\"", addr.ip())).await;
    host.ok(&format!("AT+UFTP=7,{}", addr.port())).await;
    host.ok("AT+UFTP=6,1").await;
}
