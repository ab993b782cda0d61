//! A scripted **fake** FTP server, for faults real servers cannot produce.
//!
//! Real servers (the rest of this crate) are what the client is tested against. But some
//! situations a client must survive cannot be provoked from a real server on demand: a reply cut
//! off in the middle of a line, a data connection dropped at exactly byte N, a `421` at an
//! arbitrary point, a `227` naming a foreign host, a `332` from a server without `ACCT`, a stall
//! longer than the client's timeout, garbage instead of a reply. The fake server plays such a
//! situation from a [`Script`]: a list of [`Step`]s (send these bytes, expect a command starting
//! with this, open a passive listener and send N bytes then drop, stall, reset …) run in order on
//! one control connection. It knows no FTP beyond what the script says; everything the client
//! sent is recorded in a [`Transcript`] for assertions.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use test_servers::fake::{FakeServer, Script};
//! // A RETR whose data connection dies after 1000 of the announced 5000 bytes.
//! let script = Script::new()
//!     .greet()
//!     .login()
//!     .expect_reply("TYPE I", "200 Binary")
//!     .epsv()
//!     .expect_reply("RETR", "150 Opening data connection (5000 bytes)")
//!     .accept_data()
//!     .data_send(vec![b'x'; 1000])
//!     .data_reset()
//!     .reply("426 Connection closed; transfer aborted");
//! let server = FakeServer::start(script).await?;
//! // … run the client against server.addr …
//! let transcripts = server.finish(std::time::Duration::from_secs(5)).await;
//! assert!(transcripts[0].commands.iter().any(|c| c.starts_with("RETR")));
//! # Ok(()) }
//! ```
//!
//! Rules of the game:
//! * each accepted control connection plays the next script ([`FakeServer::start_many`]); a
//!   connection beyond the last script is closed at once;
//! * when a script ends the control connection is closed (add [`Script::stall`] or
//!   [`Script::expect_eof`] to keep it open);
//! * a failed expectation ends that script: the connection is closed and
//!   [`Transcript::outcome`] says what was expected and what came;
//! * every wait (for a command, a data connection, EOF) gives up after [`MAX_WAIT`], so a
//!   misbehaving client cannot hang the test forever;
//! * the argument of `PASS` is never recorded (`PASS <redacted>`); check a password with
//!   [`Script::expect`]`("PASS secret")` instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Upper bound of every wait inside a script.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Longest command line the fake server accepts before it calls it garbage.
const MAX_LINE: usize = 8192;

/// One step of a [`Script`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes on the control connection, unchanged (no CRLF added).
    Send(Vec<u8>),
    /// Read one command line; it must start with this prefix (ASCII case-insensitive).
    /// `PORT`/`EPRT` arguments are remembered for [`Step::ConnectActive`].
    Expect(String),
    /// Read one command line, whatever it is.
    ReadLine,
    /// Wait until the client closes the control connection.
    ExpectEof,
    /// Do nothing for this long (a stalled server).
    Stall(Duration),
    /// Close the control connection (FIN).
    Close,
    /// Abort the control connection (RST: zero linger, then close).
    Reset,
    /// Open a passive data listener on the control connection's local address (port 0) and
    /// answer `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` (IPv4 control connections only).
    Pasv,
    /// Open a passive data listener and answer `229 Entering Extended Passive Mode (|||port|)`.
    Epsv,
    /// Answer `227` naming this address without listening anywhere (e.g. a foreign host).
    PasvNaming(SocketAddrV4),
    /// Accept one connection on the passive listener.
    AcceptData,
    /// Connect to the address of the last `PORT`/`EPRT` command (active mode).
    ConnectActive,
    /// Send these bytes on the data connection.
    DataSend(Vec<u8>),
    /// Read the data connection to EOF; the bytes go into [`Transcript::data_received`].
    DataReceive,
    /// Close the data connection (FIN) and the passive listener.
    DataClose,
    /// Abort the data connection (RST) and close the passive listener.
    DataReset,
}

/// A list of [`Step`]s with builder methods. Methods taking reply text add `\r\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append any step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Send raw bytes (nothing added): partial lines, bare LF, garbage.
    pub fn send(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(Step::Send(bytes.as_ref().to_vec()))
    }

    /// Send one reply line: `text` + `\r\n` (`text` may contain inner `\r\n` for multi-line
    /// replies).
    pub fn reply(self, text: &str) -> Self {
        self.send(format!("{text}\r\n"))
    }

    /// `220 fake FTP server (scripted)`.
    pub fn greet(self) -> Self {
        self.reply("220 fake FTP server (scripted)")
    }

    /// Expect a command starting with `prefix`.
    pub fn expect(self, prefix: &str) -> Self {
        self.step(Step::Expect(prefix.to_string()))
    }

    /// Expect a command starting with `prefix`, then send the reply line `reply`.
    pub fn expect_reply(self, prefix: &str, reply: &str) -> Self {
        self.expect(prefix).reply(reply)
    }

    /// `USER` → `331`, `PASS` → `230` (any user and password).
    pub fn login(self) -> Self {
        self.expect_reply("USER", "331 Password required")
            .expect_reply("PASS", "230 Logged in")
    }

    /// Read one command, whatever it is.
    pub fn read_line(self) -> Self {
        self.step(Step::ReadLine)
    }

    /// Wait for the client to close the control connection.
    pub fn expect_eof(self) -> Self {
        self.step(Step::ExpectEof)
    }

    pub fn stall(self, duration: Duration) -> Self {
        self.step(Step::Stall(duration))
    }

    pub fn close(self) -> Self {
        self.step(Step::Close)
    }

    pub fn reset(self) -> Self {
        self.step(Step::Reset)
    }

    /// Expect `PASV`, open a listener and answer 227 naming it.
    pub fn pasv(self) -> Self {
        self.expect("PASV").step(Step::Pasv)
    }

    /// Expect `EPSV`, open a listener and answer 229 naming it.
    pub fn epsv(self) -> Self {
        self.expect("EPSV").step(Step::Epsv)
    }

    /// Expect `PASV` and answer 227 naming `addr` (nothing listens there).
    pub fn pasv_naming(self, addr: SocketAddrV4) -> Self {
        self.expect("PASV").step(Step::PasvNaming(addr))
    }

    /// Expect `PORT` (or `EPRT`) and answer `200`; the address is kept for
    /// [`connect_active`](Self::connect_active).
    pub fn port(self, prefix: &str) -> Self {
        self.expect_reply(prefix, "200 Command okay")
    }

    pub fn accept_data(self) -> Self {
        self.step(Step::AcceptData)
    }

    pub fn connect_active(self) -> Self {
        self.step(Step::ConnectActive)
    }

    pub fn data_send(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(Step::DataSend(bytes.as_ref().to_vec()))
    }

    pub fn data_receive(self) -> Self {
        self.step(Step::DataReceive)
    }

    pub fn data_close(self) -> Self {
        self.step(Step::DataClose)
    }

    pub fn data_reset(self) -> Self {
        self.step(Step::DataReset)
    }
}

/// How a script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still playing.
    Running,
    /// Every step was played.
    Completed,
    /// A step failed (unexpected command, client gone, wait expired …): what and where.
    Failed(String),
}

/// What happened on one control connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// Every command line the client sent, without CRLF (`PASS` argument redacted).
    pub commands: Vec<String>,
    /// One entry per [`Step::DataReceive`]: the bytes received on the data connection.
    pub data_received: Vec<Vec<u8>>,
    pub outcome: Outcome,
}

impl Transcript {
    fn new() -> Self {
        Self {
            commands: Vec::new(),
            data_received: Vec::new(),
            outcome: Outcome::Running,
        }
    }
}

/// A running fake server. Dropping it stops it (open connections are dropped).
pub struct FakeServer {
    /// Where to connect the client.
    pub addr: SocketAddr,
    transcripts: Arc<Mutex<Vec<Transcript>>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeServer {
    /// Play `script` on the first connection to a new listener on `127.0.0.1:0`.
    pub async fn start(script: Script) -> std::io::Result<Self> {
        Self::start_many(IpAddr::V4(Ipv4Addr::LOCALHOST), vec![script]).await
    }

    /// Listen on `ip` (port 0) and play `scripts[i]` on the i-th connection, one connection at a
    /// time, in order.
    pub async fn start_many(ip: IpAddr, scripts: Vec<Script>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        let addr = listener.local_addr()?;
        let transcripts = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&transcripts);
        let task = tokio::spawn(async move {
            for script in scripts {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let index = {
                    let mut all = lock(&shared);
                    all.push(Transcript::new());
                    all.len() - 1
                };
                let mut player = Player {
                    control: Some(BufReader::new(stream)),
                    passive: None,
                    data: None,
                    active_target: None,
                    transcripts: Arc::clone(&shared),
                    index,
                };
                let outcome = match player.play(&script).await {
                    Ok(()) => Outcome::Completed,
                    Err(e) => Outcome::Failed(e),
                };
                lock(&shared)[index].outcome = outcome;
            }
            // Further connections: closed at once.
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        Ok(Self {
            addr,
            transcripts,
            task: Some(task),
        })
    }

    /// Snapshot of the transcripts so far (one per accepted scripted connection).
    pub fn transcripts(&self) -> Vec<Transcript> {
        lock(&self.transcripts).clone()
    }

    /// Wait until every script has finished (at most `limit`), stop the server and return the
    /// transcripts. Scripts still running at the limit are reported as [`Outcome::Running`].
    pub async fn finish(mut self, limit: Duration) -> Vec<Transcript> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let all = self.transcripts();
            let running = all.iter().any(|t| t.outcome == Outcome::Running);
            let task_done = self.task.as_ref().is_none_or(JoinHandle::is_finished);
            if (!running && (task_done || !all.is_empty()))
                || tokio::time::Instant::now() >= deadline
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.transcripts()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn lock(m: &Mutex<Vec<Transcript>>) -> std::sync::MutexGuard<'_, Vec<Transcript>> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Plays one script on one control connection.
struct Player {
    /// `None` after [`Step::Close`] / [`Step::Reset`].
    control: Option<BufReader<TcpStream>>,
    passive: Option<TcpListener>,
    data: Option<TcpStream>,
    active_target: Option<SocketAddr>,
    transcripts: Arc<Mutex<Vec<Transcript>>>,
    index: usize,
}

type StepResult = Result<(), String>;

async fn within<T>(
    what: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(MAX_WAIT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no progress within {MAX_WAIT:?}")),
    }
}

impl Player {
    async fn play(&mut self, script: &Script) -> StepResult {
        for (i, step) in script.steps.iter().enumerate() {
            self.run(step)
                .await
                .map_err(|e| format!("step {i} ({}): {e}", describe(step)))?;
        }
        Ok(())
    }

    async fn run(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Send(bytes) => self.send(bytes).await,
            Step::Expect(prefix) => {
                let line = self.read_command().await?;
                match line {
                    Some(line) if starts_with_ignore_case(&line, prefix) => Ok(()),
                    Some(line) => Err(format!("expected {prefix:?}, got {:?}", redact(&line))),
                    None => Err(format!(
                        "expected {prefix:?}, but the client closed the connection"
                    )),
                }
            }
            Step::ReadLine => match self.read_command().await? {
                Some(_) => Ok(()),
                None => Err("client closed the connection".into()),
            },
            Step::ExpectEof => loop {
                match self.read_command().await? {
                    None => return Ok(()),
                    Some(_) => continue,
                }
            },
            Step::Stall(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Step::Close => {
                if let Some(mut control) = self.control.take() {
                    let _ = control.get_mut().shutdown().await;
                }
                Ok(())
            }
            Step::Reset => {
                if let Some(control) = self.control.take() {
                    control
                        .get_ref()
                        .set_zero_linger()
                        .map_err(|e| format!("SO_LINGER: {e}"))?;
                }
                Ok(())
            }
            Step::Pasv => {
                let local = self.local_addr()?;
                let IpAddr::V4(ip) = local.ip() else {
                    return Err("PASV needs an IPv4 control connection".into());
                };
                let listener = within("bind passive", TcpListener::bind((ip, 0))).await?;
                let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                self.passive = Some(listener);
                self.send(pasv_reply(SocketAddrV4::new(ip, port)).as_bytes())
                    .await
            }
            Step::Epsv => {
                let local = self.local_addr()?;
                let listener = within("bind passive", TcpListener::bind((local.ip(), 0))).await?;
                let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                self.passive = Some(listener);
                self.send(format!("229 Entering Extended Passive Mode (|||{port}|)\r\n").as_bytes())
                    .await
            }
            Step::PasvNaming(addr) => self.send(pasv_reply(*addr).as_bytes()).await,
            Step::AcceptData => {
                let Some(listener) = self.passive.as_ref() else {
                    return Err("no passive listener (add Pasv/Epsv first)".into());
                };
                let (stream, _) = within("accept data connection", listener.accept()).await?;
                self.data = Some(stream);
                Ok(())
            }
            Step::ConnectActive => {
                let Some(target) = self.active_target else {
                    return Err("no PORT/EPRT address received".into());
                };
                let stream = within(
                    &format!("connect to active target {target}"),
                    TcpStream::connect(target),
                )
                .await?;
                self.data = Some(stream);
                Ok(())
            }
            Step::DataSend(bytes) => {
                let data = self.data_mut()?;
                within("send data", data.write_all(bytes)).await
            }
            Step::DataReceive => {
                let data = self.data_mut()?;
                let mut buf = Vec::new();
                within("receive data", data.read_to_end(&mut buf)).await?;
                lock(&self.transcripts)[self.index].data_received.push(buf);
                Ok(())
            }
            Step::DataClose => {
                self.passive = None;
                if let Some(mut data) = self.data.take() {
                    let _ = data.shutdown().await;
                }
                Ok(())
            }
            Step::DataReset => {
                self.passive = None;
                if let Some(data) = self.data.take() {
                    data.set_zero_linger()
                        .map_err(|e| format!("SO_LINGER: {e}"))?;
                    drop(data);
                }
                Ok(())
            }
        }
    }

    fn data_mut(&mut self) -> Result<&mut TcpStream, String> {
        self.data
            .as_mut()
            .ok_or_else(|| "no data connection (add AcceptData/ConnectActive first)".into())
    }

    fn control(&mut self) -> Result<&mut BufReader<TcpStream>, String> {
        self.control
            .as_mut()
            .ok_or_else(|| "control connection already closed by the script".into())
    }

    fn local_addr(&mut self) -> Result<SocketAddr, String> {
        self.control()?
            .get_ref()
            .local_addr()
            .map_err(|e| e.to_string())
    }

    async fn send(&mut self, bytes: &[u8]) -> StepResult {
        let stream = self.control()?.get_mut();
        within("send on control connection", stream.write_all(bytes)).await?;
        within("flush control connection", stream.flush()).await
    }

    /// Read one line (up to LF; CR stripped). `None` = EOF before any byte.
    async fn read_command(&mut self) -> Result<Option<String>, String> {
        let mut line = Vec::new();
        loop {
            let mut byte = [0u8; 1];
            let n = within("read command", self.control()?.read(&mut byte)).await?;
            if n == 0 {
                if line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
            if line.len() > MAX_LINE {
                return Err(format!("command line longer than {MAX_LINE} bytes"));
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        if let Some(target) = parse_port(&text).or_else(|| parse_eprt(&text)) {
            self.active_target = Some(target);
        }
        lock(&self.transcripts)[self.index]
            .commands
            .push(redact(&text));
        Ok(Some(text))
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Send(b) if b.len() > 40 => format!("Send({} bytes)", b.len()),
        Step::Send(b) => format!("Send({:?})", String::from_utf8_lossy(b)),
        Step::DataSend(b) => format!("DataSend({} bytes)", b.len()),
        other => format!("{other:?}"),
    }
}

fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.len() >= prefix.len()
        && line.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `PASS xyz` → `PASS <redacted>`; other lines unchanged.
fn redact(line: &str) -> String {
    if starts_with_ignore_case(line, "PASS") {
        format!("{} <redacted>", &line[..4])
    } else {
        line.to_string()
    }
}

fn pasv_reply(addr: SocketAddrV4) -> String {
    let o = addr.ip().octets();
    let p = addr.port();
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).\r\n",
        o[0],
        o[1],
        o[2],
        o[3],
        p >> 8,
        p & 0xff
    )
}

/// `PORT h1,h2,h3,h4,p1,p2`
fn parse_port(line: &str) -> Option<SocketAddr> {
    if !starts_with_ignore_case(line, "PORT ") {
        return None;
    }
    let nums: Vec<u8> = line[5..]
        .trim()
        .split(',')
        .map(|s| s.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, p1, p2] = nums[..] else {
        return None;
    };
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

/// `EPRT |1|127.0.0.1|5000|` or `EPRT |2|::1|5000|` (any delimiter).
fn parse_eprt(line: &str) -> Option<SocketAddr> {
    if !starts_with_ignore_case(line, "EPRT ") {
        return None;
    }
    let arg = line[5..].trim();
    let delim = arg.chars().next()?;
    let parts: Vec<&str> = arg.split(delim).collect();
    // "", proto, addr, port, ""
    let [_, proto, ip, port, _] = parts[..] else {
        return None;
    };
    let ip: IpAddr = ip.parse().ok()?;
    match (proto, ip) {
        ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)) => {}
        _ => return None,
    }
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_eprt_parse() {
        assert_eq!(
            parse_port("PORT 127,0,0,1,19,136"),
            Some("127.0.0.1:5000".parse().unwrap())
        );
        assert_eq!(parse_port("PORT 1,2,3"), None);
        assert_eq!(parse_port("PORT 300,0,0,1,1,1"), None);
        assert_eq!(
            parse_eprt("EPRT |2|::1|5000|"),
            Some("[::1]:5000".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("eprt !1!127.0.0.1!21!"),
            Some("127.0.0.1:21".parse().unwrap())
        );
        assert_eq!(parse_eprt("EPRT |1|::1|5000|"), None);
        assert_eq!(parse_eprt("EPRT |1|"), None);
    }

    #[test]
    fn pass_is_redacted() {
        assert_eq!(redact("PASS hunter2"), "PASS <redacted>");
        assert_eq!(redact("pass x"), "pass <redacted>");
        assert_eq!(redact("USER bob"), "USER bob");
    }

    proptest::proptest! {
        #[test]
        fn port_round_trips(a: u8, b: u8, c: u8, d: u8, port: u16) {
            let line = format!("PORT {a},{b},{c},{d},{},{}", port >> 8, port & 0xff);
            let want = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port);
            proptest::prop_assert_eq!(parse_port(&line), Some(want));
            let v4 = SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port);
            let reply = pasv_reply(v4);
            proptest::prop_assert_eq!(parse_port(&format!("PORT {}", &reply[27..reply.len() - 4])), Some(want));
        }

        #[test]
        fn eprt_round_trips(v6: [u16; 8], v4: [u8; 4], port: u16) {
            let ip6 = IpAddr::V6(std::net::Ipv6Addr::from(v6));
            let ip4 = IpAddr::V4(Ipv4Addr::from(v4));
            proptest::prop_assert_eq!(parse_eprt(&format!("EPRT |2|{ip6}|{port}|")), Some(SocketAddr::new(ip6, port)));
            proptest::prop_assert_eq!(parse_eprt(&format!("EPRT |1|{ip4}|{port}|")), Some(SocketAddr::new(ip4, port)));
        }

        #[test]
        fn parsers_never_panic(line in "\\PC{0,40}", tail in "[ ,|0-9a-fA-F:.]{0,40}") {
            for candidate in [line.clone(), format!("PORT {tail}"), format!("EPRT {tail}"), format!("pass{tail}")] {
                let _ = parse_port(&candidate);
                let _ = parse_eprt(&candidate);
                let _ = redact(&candidate);
                let _ = starts_with_ignore_case(&candidate, "PORT ");
            }
        }
    }

    #[test]
    fn pasv_reply_encodes_port() {
        assert_eq!(
            pasv_reply("10.1.2.3:5000".parse().unwrap()),
            "227 Entering Passive Mode (10,1,2,3,19,136).\r\n"
        );
    }
}
