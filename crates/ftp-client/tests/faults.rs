//! Faults real servers cannot be made to produce on demand, played by the scripted
//! **fake** server of `test-servers` (`test_servers::fake`): it is not a real FTP server,
//! it sends exactly what each script says. The transcripts show what the client sent.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use ftp_client::{
    Channel, CloseReason, ConnectOptions, DataMode, ErrorKind, FtpSession, StaticResolver,
    StoreMode, TimeoutKind, TlsOptions,
};
use test_servers::fake::{FakeServer, Outcome, Script, Transcript};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const PASSWORD: &str = "hunter2";

fn opts(addr: SocketAddr) -> ConnectOptions {
    let mut o = ConnectOptions::new(addr.ip().to_string(), addr.port(), "u", PASSWORD);
    o.timeouts.connect = Duration::from_secs(5);
    o.timeouts.reply = Duration::from_secs(5);
    o.timeouts.data_stall = Some(Duration::from_secs(5));
    o
}

/// Greeting, login, TYPE I: what every session starts with.
fn logged_in() -> Script {
    Script::new()
        .greet()
        .login()
        .expect_reply("TYPE I", "200 Switching to Binary mode.")
}

async fn start(script: Script) -> FakeServer {
    FakeServer::start(script).await.expect("fake server")
}

async fn transcript(server: FakeServer) -> Transcript {
    server
        .finish(Duration::from_secs(5))
        .await
        .into_iter()
        .next()
        .expect("one connection")
}

#[tokio::test]
async fn pasv_address_is_ignored_in_favour_of_the_control_peer() {
    // 227 names a foreign host. A client honouring it would try 10.255.255.1; this one
    // connects to the control peer (127.0.0.1) with the announced port, where nothing
    // listens: the error names 127.0.0.1.
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let fake = start(
        logged_in()
            .pasv_naming(SocketAddrV4::new([10, 255, 255, 1].into(), port))
            .stall(Duration::from_secs(2)),
    )
    .await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let err = s.nlst(None).await.expect_err("nothing listens");
    match err.kind() {
        ErrorKind::ConnectRefused(addr) => {
            assert_eq!(*addr, SocketAddr::from(([127, 0, 0, 1], port)))
        }
        other => panic!("expected ConnectRefused at the control peer, got {other}"),
    }
    assert!(!err.session_closed());
}

#[tokio::test]
async fn pasv_refused_falls_back_to_epsv() {
    let fake = start(
        logged_in()
            .expect_reply("PASV", "502 PASV not here")
            .epsv()
            .expect_reply("NLST", "150 Here comes the list")
            .accept_data()
            .data_send(b"a\r\nb\r\n")
            .data_close()
            .reply("226 ok"),
    )
    .await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let l = s.nlst(None).await.expect("NLST");
    assert_eq!(l.data, b"a\r\nb\r\n");
    assert_eq!(l.reply.code(), 226);
}

#[tokio::test]
async fn upload_in_active_mode_arrives_byte_exact() {
    let payload: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let fake = start(
        logged_in()
            .port("PORT")
            .expect_reply("STOR up.bin", "150 Ok to send data.")
            .connect_active()
            .data_receive()
            .reply("226 Transfer complete."),
    )
    .await;
    let mut o = opts(fake.addr);
    o.data_mode = DataMode::Active { ports: None };
    let mut s = FtpSession::connect(o).await.expect("connect");
    let summary = s
        .store_from("up.bin", StoreMode::Replace, &mut &payload[..], &mut |_| {})
        .await
        .expect("STOR");
    assert_eq!(summary.bytes, payload.len() as u64);
    drop(s);
    let t = transcript(fake).await;
    assert_eq!(t.data_received, vec![payload]);
}

#[tokio::test]
async fn account_is_sent_when_the_server_asks_with_332() {
    let fake = start(
        Script::new()
            .greet()
            .expect_reply("USER", "331 Password required")
            .expect_reply("PASS", "332 Need account for login.")
            .expect_reply("ACCT acme", "230 Logged in.")
            .expect_reply("TYPE I", "200 ok"),
    )
    .await;
    let mut o = opts(fake.addr);
    o.account = Some("acme".into());
    FtpSession::connect(o).await.expect("login with ACCT");

    let fake = start(
        Script::new()
            .greet()
            .expect_reply("USER", "331 Password required")
            .expect_reply("PASS", "332 Need account for login.")
            .expect_reply("QUIT", "221 bye"),
    )
    .await;
    let err = FtpSession::connect(opts(fake.addr))
        .await
        .expect_err("no account configured");
    assert_eq!(err.reply_code(), Some(332));
}

#[tokio::test]
async fn configured_account_is_sent_after_login_even_unasked() {
    let fake = start(
        Script::new()
            .greet()
            .expect_reply("USER", "230 Logged in without password")
            .expect_reply("ACCT acme", "502 ACCT not implemented.")
            .expect_reply("TYPE I", "200 ok"),
    )
    .await;
    let mut o = opts(fake.addr);
    o.account = Some("acme".into());
    FtpSession::connect(o)
        .await
        .expect("502 to an unasked ACCT is fine");
}

#[tokio::test]
async fn unknown_reply_codes_are_kept_exactly() {
    let fake = start(
        logged_in()
            .pasv()
            .expect_reply("RETR", "150 go")
            .accept_data()
            .data_close()
            .reply("522 SSL connection failed: session reuse required")
            .expect_reply("NOOP", "534 Request denied for policy reasons.")
            .expect_reply("NOOP", "299 odd but positive"),
    )
    .await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("522");
    assert_eq!(err.reply_code(), Some(522));
    assert_eq!(
        err.reply().map(|r| r.message().to_string()).as_deref(),
        Some("SSL connection failed: session reuse required")
    );
    assert!(!err.session_closed());
    let err = s.noop().await.expect_err("534");
    assert_eq!(err.reply_code(), Some(534));
    let err = s.noop().await.expect_err("299 is not NOOP's 200");
    assert_eq!(err.reply_code(), Some(299));
}

#[tokio::test]
async fn service_closing_421_closes_the_session() {
    let fake = start(logged_in().expect_reply("PWD", "421 Timeout.")).await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let err = s.pwd().await.expect_err("421");
    assert_eq!(err.reply_code(), Some(421));
    assert!(err.session_closed() && s.is_closed());
    let err = s.noop().await.expect_err("closed");
    assert!(matches!(
        err.kind(),
        ErrorKind::Closed(CloseReason::Failed(_))
    ));
}

/// The `421` every case below sends: the server is shutting the connection down.
const BYE: &str = "421 Service not available, closing control connection.";

/// What the client is doing when the `421` comes.
#[derive(Clone, Copy, Debug)]
enum Doing {
    /// `FtpSession::connect` (greeting, login).
    Connect,
    /// `retrieve_to("f")`.
    Retrieve,
    /// `store_from("f")` with three bytes.
    Store,
}

/// One step at which the server answers `421`, and the commands the client must have
/// sent by then (and nothing after: no `QUIT` to a server that is hanging up).
struct ClosingAt {
    at: &'static str,
    script: Script,
    doing: Doing,
    commands: &'static [&'static str],
}

fn closing_cases() -> Vec<ClosingAt> {
    const LOGIN: [&str; 3] = ["USER u", "PASS <redacted>", "TYPE I"];
    vec![
        ClosingAt {
            at: "greeting",
            script: Script::new().reply(BYE),
            doing: Doing::Connect,
            commands: &[],
        },
        ClosingAt {
            at: "USER",
            script: Script::new().greet().expect_reply("USER", BYE),
            doing: Doing::Connect,
            commands: &["USER u"],
        },
        ClosingAt {
            at: "PASS",
            script: Script::new()
                .greet()
                .expect_reply("USER", "331 Password required")
                .expect_reply("PASS", BYE),
            doing: Doing::Connect,
            commands: &["USER u", "PASS <redacted>"],
        },
        ClosingAt {
            at: "PASV",
            script: logged_in().expect_reply("PASV", BYE),
            doing: Doing::Retrieve,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV"],
        },
        ClosingAt {
            at: "EPSV",
            script: logged_in()
                .expect_reply("PASV", "502 PASV not here")
                .expect_reply("EPSV", BYE),
            doing: Doing::Retrieve,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV", "EPSV"],
        },
        ClosingAt {
            at: "RETR, before any data",
            script: logged_in().pasv().expect_reply("RETR", BYE),
            doing: Doing::Retrieve,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV", "RETR f"],
        },
        ClosingAt {
            at: "STOR, before any data",
            script: logged_in().pasv().expect_reply("STOR", BYE),
            doing: Doing::Store,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV", "STOR f"],
        },
        ClosingAt {
            at: "the end of a download, in place of 226",
            script: logged_in()
                .pasv()
                .expect_reply(
                    "RETR",
                    "150 Opening BINARY mode data connection for f (3 bytes).",
                )
                .accept_data()
                .data_send(b"abc")
                .data_close()
                .reply(BYE),
            doing: Doing::Retrieve,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV", "RETR f"],
        },
        ClosingAt {
            at: "the end of an upload, in place of 226",
            script: logged_in()
                .pasv()
                .expect_reply("STOR", "150 Ok to send data.")
                .accept_data()
                .data_receive()
                .reply(BYE),
            doing: Doing::Store,
            commands: &[LOGIN[0], LOGIN[1], LOGIN[2], "PASV", "STOR f"],
        },
    ]
}

#[tokio::test]
async fn service_closing_421_at_each_step_closes_the_session() {
    for case in closing_cases() {
        let at = case.at;
        // After the 421 the fake waits for the client to hang up, recording anything
        // it still sends.
        let fake = start(case.script.expect_eof()).await;
        let err = match case.doing {
            Doing::Connect => FtpSession::connect(opts(fake.addr))
                .await
                .expect_err("421 during connect"),
            Doing::Retrieve | Doing::Store => {
                let mut s = FtpSession::connect(opts(fake.addr))
                    .await
                    .unwrap_or_else(|e| panic!("421 at {at}: connect: {e}"));
                let err = match case.doing {
                    Doing::Store => s
                        .store_from("f", StoreMode::Replace, &mut &b"abc"[..], &mut |_| {})
                        .await
                        .expect_err("421 during STOR"),
                    _ => {
                        let mut sink = Vec::new();
                        s.retrieve_to("f", 0, &mut sink, &mut |_| {})
                            .await
                            .expect_err("421 during RETR")
                    }
                };
                assert!(s.is_closed(), "421 at {at}: session still open");
                assert!(
                    matches!(s.close_reason(), Some(CloseReason::Failed(ref why)) if why.contains(BYE)),
                    "421 at {at}: {:?}",
                    s.close_reason()
                );
                let next = s.noop().await.expect_err("closed");
                assert!(
                    matches!(next.kind(), ErrorKind::Closed(CloseReason::Failed(_))),
                    "421 at {at}: {next}"
                );
                assert!(next.session_closed());
                err
            }
        };
        assert_eq!(err.reply_code(), Some(421), "421 at {at}: {err}");
        assert_eq!(
            err.reply().map(|r| r.text().to_string()).as_deref(),
            Some(BYE),
            "421 at {at}"
        );
        assert!(err.session_closed(), "421 at {at}: {err}");
        let t = transcript(fake).await;
        assert_eq!(t.commands, case.commands, "421 at {at}");
        assert_eq!(t.outcome, Outcome::Completed, "421 at {at}: {t:?}");
    }
}

/// A loopback address where TCP connects hang, offline: a listener that never accepts,
/// with a backlog of 0 and its accept queue already filled, so the kernel drops every
/// further SYN. Keep the returned listener and streams alive while the hole is needed.
async fn black_hole() -> (SocketAddr, TcpListener, Vec<TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut queued = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("filling the accept queue of {addr}: {e}"),
            Err(_) => return (addr, listener, queued),
        }
    }
    panic!("the accept queue of {addr} never filled: no offline black hole here");
}

#[tokio::test]
async fn connect_timeout_when_nobody_answers_the_syn() {
    let (addr, _listener, _queued) = black_hole().await;
    let mut o = opts(addr);
    o.timeouts.connect = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let err = FtpSession::connect(o).await.expect_err("black hole");
    let took = started.elapsed();
    assert!(err.is_timeout(TimeoutKind::Connect), "{err}");
    // No session came into being: a failed connect always says so.
    assert!(err.session_closed());
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn passive_data_connect_timeout_keeps_the_session() {
    // 227 names the black hole's port; the client connects to it on the control peer
    // (127.0.0.1, where the hole is) and never gets a SYN-ACK.
    let (hole, _listener, _queued) = black_hole().await;
    let fake = start(
        logged_in()
            .pasv_naming(SocketAddrV4::new([127, 0, 0, 1].into(), hole.port()))
            .expect_reply("NOOP", "200 still here"),
    )
    .await;
    let mut o = opts(fake.addr);
    o.timeouts.connect = Duration::from_millis(300);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let started = std::time::Instant::now();
    let err = s.nlst(None).await.expect_err("data connect hangs");
    assert!(err.is_timeout(TimeoutKind::DataConnect), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!err.session_closed() && !s.is_closed());
    s.noop().await.expect("control still in step");
    drop(s);
    let t = transcript(fake).await;
    // NLST itself was never sent: the data connection comes first in passive mode.
    assert_eq!(
        t.commands,
        ["USER u", "PASS <redacted>", "TYPE I", "PASV", "NOOP"]
    );
}

#[tokio::test]
async fn active_data_connect_timeout_keeps_the_session() {
    // The server says 150 but never connects; its 425 comes after the client gave up.
    let fake = start(
        logged_in()
            .port("PORT")
            .expect_reply("RETR", "150 Opening BINARY mode data connection for f.")
            .stall(Duration::from_millis(800))
            .reply("425 Can't open data connection.")
            .expect_reply("NOOP", "200 still here"),
    )
    .await;
    let mut o = opts(fake.addr);
    o.data_mode = DataMode::Active { ports: None };
    o.timeouts.connect = Duration::from_millis(300);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("nobody connects");
    assert!(err.is_timeout(TimeoutKind::DataConnect), "{err}");
    assert!(!err.session_closed() && !s.is_closed());
    let reply = s
        .noop()
        .await
        .expect("the owed 425 is read first; control in step");
    assert_eq!(reply.text(), "200 still here");
}

#[tokio::test]
async fn tls_handshake_timeout_when_the_server_goes_quiet_after_234() {
    let fake = start(
        Script::new()
            .greet()
            .expect_reply("AUTH TLS", "234 Proceed with negotiation.")
            .stall(Duration::from_secs(5)),
    )
    .await;
    let mut o = opts(fake.addr);
    o.timeouts.connect = Duration::from_millis(300);
    o.tls = Some(TlsOptions::default());
    let started = std::time::Instant::now();
    let err = FtpSession::connect(o).await.expect_err("no ServerHello");
    assert!(err.is_timeout(TimeoutKind::TlsHandshake), "{err}");
    assert!(err.session_closed());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn garbage_and_oversized_replies_are_protocol_errors() {
    let fake = start(Script::new().send("HTTP/1.1 400 Bad Request\r\n\r\n")).await;
    let err = FtpSession::connect(opts(fake.addr))
        .await
        .expect_err("garbage");
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err}");

    let mut huge = b"220-".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 100_000));
    let fake = start(Script::new().send(huge).send("\r\n220 end\r\n")).await;
    let mut o = opts(fake.addr);
    o.limits.max_reply_bytes = 4096;
    let err = FtpSession::connect(o).await.expect_err("too long");
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err}");
}

#[tokio::test]
async fn reply_cut_mid_line_is_an_error() {
    let fake = start(logged_in().expect("PWD").send("257 \"/ha").close()).await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let err = s.pwd().await.expect_err("cut");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Io {
                channel: Channel::Control,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.session_closed());
}

#[tokio::test]
async fn control_reset_closes_the_session() {
    let fake = start(logged_in().expect("NOOP").reset()).await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let err = s.noop().await.expect_err("reset");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Io {
                channel: Channel::Control,
                ..
            }
        ),
        "{err}"
    );
    assert!(s.is_closed());
}

#[tokio::test]
async fn data_reset_mid_transfer_keeps_the_session() {
    let fake = start(
        logged_in()
            .pasv()
            .expect_reply("RETR", "150 Opening data connection (5000 bytes)")
            .accept_data()
            .data_send(vec![b'x'; 1000])
            .data_reset()
            .reply("426 Connection closed; transfer aborted.")
            .expect_reply("NOOP", "200 still here"),
    )
    .await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("cut transfer");
    // The reset is seen either as an I/O error on the data connection or as a short
    // file; either way the server's 426 names the cause.
    assert_eq!(err.reply_code(), Some(426), "{err}");
    assert!(!err.session_closed());
    s.noop()
        .await
        .expect("the owed 426 is consumed; control in step");
}

#[tokio::test]
async fn silent_server_times_out_and_closes_the_session() {
    let fake = start(logged_in().expect("NOOP").stall(Duration::from_secs(5))).await;
    let mut o = opts(fake.addr);
    o.timeouts.reply = Duration::from_millis(300);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let err = s.noop().await.expect_err("timeout");
    assert!(err.is_timeout(TimeoutKind::Reply), "{err}");
    assert!(err.session_closed());
}

#[tokio::test]
async fn stalled_data_connection_times_out() {
    let fake = start(
        logged_in()
            .pasv()
            .expect_reply("RETR", "150 go")
            .accept_data()
            .data_send(vec![1u8; 1000])
            .stall(Duration::from_secs(5)),
    )
    .await;
    let mut o = opts(fake.addr);
    o.timeouts.data_stall = Some(Duration::from_millis(300));
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut sink = Vec::new();
    let mut seen = 0;
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |n| seen = n)
        .await
        .expect_err("stall");
    assert!(err.is_timeout(TimeoutKind::DataStall), "{err}");
    assert!(!err.session_closed());
    assert_eq!(seen, 1000);
}

#[tokio::test]
async fn active_mode_server_giving_up_is_reported_with_its_reply() {
    let fake = start(
        logged_in()
            .port("PORT")
            .expect_reply("RETR", "150 connecting")
            .reply("425 Can't open data connection.")
            .expect_reply("NOOP", "200 still here"),
    )
    .await;
    let mut o = opts(fake.addr);
    o.data_mode = DataMode::Active { ports: None };
    o.timeouts.connect = Duration::from_secs(30);
    let mut s = FtpSession::connect(o).await.expect("connect");
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    let err = s
        .retrieve_to("f", 0, &mut sink, &mut |_| {})
        .await
        .expect_err("425");
    assert_eq!(err.reply_code(), Some(425), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the accept timeout"
    );
    s.noop().await.expect("control still in step");
}

#[tokio::test]
async fn arguments_with_line_breaks_are_never_sent() {
    let fake = start(logged_in().expect_reply("NOOP", "200 ok")).await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    for bad in ["a\r\nDELE x", "a\nb", "a\0b", "x\rDELE y"] {
        let err = s.dele(bad).await.expect_err("refused");
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
        let err = s.rename("fine", bad).await.expect_err("refused");
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
        let err = s.quote(bad).await.expect_err("refused");
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument(_)), "{err}");
    }
    s.noop().await.expect("NOOP");
    drop(s);
    let t = transcript(fake).await;
    assert_eq!(t.commands, ["USER u", "PASS <redacted>", "TYPE I", "NOOP"]);
}

#[tokio::test]
async fn inactivity_sends_quit() {
    let fake = start(
        logged_in()
            .expect_reply("QUIT", "221 Goodbye.")
            .expect_eof(),
    )
    .await;
    let mut o = opts(fake.addr);
    o.timeouts.inactivity = Some(Duration::from_millis(300));
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut watch = s.close_watch();
    let reason = tokio::time::timeout(Duration::from_secs(5), watch.wait_for(Option::is_some))
        .await
        .expect("closed in time")
        .expect("watch")
        .clone();
    assert_eq!(reason, Some(CloseReason::Inactivity));
    let err = s.pwd().await.expect_err("closed");
    assert!(matches!(
        err.kind(),
        ErrorKind::Closed(CloseReason::Inactivity)
    ));
    let t = transcript(fake).await;
    assert_eq!(t.outcome, Outcome::Completed, "{t:?}");
}

#[tokio::test]
async fn host_names_go_through_the_injected_resolver() {
    let fake = start(logged_in()).await;
    let mut o = opts(fake.addr);
    o.host = "ftp.example.invalid".into();
    o.resolver = Arc::new(StaticResolver::new().with("ftp.example.invalid", [fake.addr.ip()]));
    FtpSession::connect(o)
        .await
        .expect("connect via the static resolver");

    let mut o = opts(fake.addr);
    o.host = "unknown.example.invalid".into();
    o.resolver = Arc::new(StaticResolver::new());
    let err = FtpSession::connect(o).await.expect_err("unresolvable");
    assert!(matches!(err.kind(), ErrorKind::Resolve { .. }), "{err}");

    let mut o = opts(fake.addr);
    o.ip_preference = ftp_client::IpPreference::V6Only;
    let err = FtpSession::connect(o).await.expect_err("no IPv6 address");
    assert!(matches!(err.kind(), ErrorKind::NoAddress { .. }), "{err}");
}

#[tokio::test]
async fn refused_connection_is_reported_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = FtpSession::connect(opts(addr)).await.expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::ConnectRefused(a) if *a == addr),
        "{err}"
    );
}

/// Collects everything the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn password_never_reaches_traces_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fake = start(
        Script::new()
            .greet()
            .expect_reply("USER", "331 Please specify the password.")
            .expect_reply(&format!("PASS {PASSWORD}"), "530 Login incorrect."),
    )
    .await;
    let opts = opts(fake.addr);
    assert!(!format!("{opts:?}").contains(PASSWORD));
    let err = FtpSession::connect(opts).await.expect_err("530");
    assert_eq!(err.reply_code(), Some(530));
    let logs = String::from_utf8_lossy(&capture.0.lock().expect("lock")).to_string();
    assert!(
        logs.contains("PASS ****"),
        "trace should show the masked command: {logs}"
    );
    assert!(!logs.contains(PASSWORD), "password in traces: {logs}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
}

/// The shared fake cannot connect *from* another address, so this one case uses a few
/// lines of its own fake: a data connection from 127.0.0.2 must be ignored in active
/// mode, the one from the control peer (127.0.0.1) accepted.
#[tokio::test]
async fn active_mode_refuses_connections_from_other_addresses() {
    use tokio::io::AsyncBufReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let mut c = tokio::io::BufReader::new(stream);
        let mut port_line = String::new();
        let _ = c.get_mut().write_all(b"220 fake\r\n").await;
        for reply in [
            "331 p\r\n",
            "230 in\r\n",
            "200 I\r\n",
            "200 PORT ok\r\n",
            "150 go\r\n",
        ] {
            let mut line = String::new();
            let _ = c.read_line(&mut line).await;
            if line.starts_with("PORT ") {
                port_line = line.trim_end().to_string();
            }
            let _ = c.get_mut().write_all(reply.as_bytes()).await;
        }
        let nums: Vec<u16> = port_line[5..]
            .split(',')
            .filter_map(|n| n.parse().ok())
            .collect();
        let target = SocketAddr::from(([127, 0, 0, 1], nums[4] * 256 + nums[5]));
        let foreign = tokio::net::TcpSocket::new_v4().expect("socket");
        foreign
            .bind("127.0.0.2:0".parse().expect("addr"))
            .expect("bind 127.0.0.2");
        let mut intruder = foreign.connect(target).await.expect("intruder connects");
        let _ = intruder.write_all(b"EVIL").await;
        let mut data = TcpStream::connect(target).await.expect("data connect");
        data.write_all(b"good").await.expect("write");
        drop(data);
        let _ = c.get_mut().write_all(b"226 done\r\n").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let mut o = opts(addr);
    o.data_mode = DataMode::Active { ports: None };
    let mut s = FtpSession::connect(o).await.expect("connect");
    let mut got = Vec::new();
    s.retrieve_to("f", 0, &mut got, &mut |_| {})
        .await
        .expect("RETR");
    assert_eq!(got, b"good");
}

// ---- Random replies: whatever the server says, the client returns, never panics. ----

const CANNED: &[&str] = &[
    "220 hi\r\n",
    "331 pass\r\n",
    "230 ok\r\n",
    "200 ok\r\n",
    "150 go\r\n",
    "226 done\r\n",
    "227 (127,0,0,1,0,1)\r\n",
    "227 (999,1,1,1,1,1)\r\n",
    "229 (|||1|)\r\n",
    "229 (|||x|)\r\n",
    "257 \"/\"\r\n",
    "257 \"unterminated\r\n",
    "421 bye\r\n",
    "550 no\r\n",
    "332 acct\r\n",
    "213 12\r\n",
    "213 -5\r\n",
    "213 99999999999999999999999\r\n",
    "250-x\r\n type=file; f\r\n250 e\r\n",
    "211-\r\n",
    "999 x\r\n",
    "\r\n",
    "2",
    "20",
    "200-",
    "ftp\r\n",
    "234 tls\r\n",
];

fn chunk() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        (0..CANNED.len()).prop_map(|i| CANNED[i].as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        "[1-6][0-9]{2}[ -][ -~]{0,20}\r\n".prop_map(String::into_bytes),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 96, ..Default::default() })]

    #[test]
    fn random_replies_never_panic(greeting in chunk(), replies in proptest::collection::vec(chunk(), 0..14)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let mut script = Script::new().send(greeting);
            for reply in replies {
                script = script.read_line().send(reply);
            }
            let fake = start(script).await;
            let mut o = opts(fake.addr);
            o.timeouts.reply = Duration::from_millis(100);
            o.timeouts.connect = Duration::from_millis(300);
            o.timeouts.data_stall = Some(Duration::from_millis(100));
            o.account = Some("a".into());
            if let Ok(mut s) = FtpSession::connect(o).await {
                let _ = s.pwd().await;
                let _ = s.nlst(None).await;
                let mut sink = Vec::new();
                let _ = s.retrieve_to("f", 5, &mut sink, &mut |_| {}).await;
                let _ = s.size("f").await;
                let _ = s.mlst(Some("f")).await;
                let _ = s.mdtm("f").await;
                let _ = s.rename("a", "b").await;
                let _ = s.store_from("f", StoreMode::Append, &mut &b"x"[..], &mut |_| {}).await;
                let _ = s.quit().await;
            }
        });
    }
}

#[tokio::test]
async fn upload_refused_mid_way_reports_the_server_reply() {
    let fake = start(
        logged_in()
            .pasv()
            .expect_reply("STOR", "150 Ok to send data.")
            .accept_data()
            .data_reset()
            .reply("552 Requested file action aborted. Exceeded storage allocation.")
            .expect_reply("NOOP", "200 ok"),
    )
    .await;
    let mut s = FtpSession::connect(opts(fake.addr)).await.expect("connect");
    let big = vec![0u8; 8 << 20];
    let err = s
        .store_from("f", StoreMode::Replace, &mut &big[..], &mut |_| {})
        .await
        .expect_err("quota");
    assert_eq!(err.reply_code(), Some(552), "{err}");
    assert!(!err.session_closed());
    s.noop().await.expect("control in step");
}
