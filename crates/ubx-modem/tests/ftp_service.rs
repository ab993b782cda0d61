//! The FTP AT service against libunftp in-process (zero setup), and its local failure modes.
//! The same flow against vsftpd, pure-ftpd, proftpd and pyftpdlib is in ftp_servers.rs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{AtHost, login, point_at_fake, session_flow, set_profile};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use ubx_modem::{Modem, ModemConfig};

/// libunftp on loopback, started in-process.
async fn libunftp(options: ServerOptions) -> RunningServer {
    start(Kind::Libunftp, options).await.expect("libunftp")
}

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_passive() {
    let server = libunftp(ServerOptions::default()).await;
    session_flow(&server, &modem(), true, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_active() {
    let server = libunftp(ServerOptions::default()).await;
    session_flow(&server, &modem(), false, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ftps_private_data() {
    let server = libunftp(ServerOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    session_flow(&server, &modem(), true, Some(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_530() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    set_profile(&mut host, server.addr, &server.user, "wrong-secret", true).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 530).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_context_fails_login_and_ends_a_session() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CGACT=0,1").await;
    host.ok(&format!("AT+UFTP=0,\"{}\"", server.ip())).await;
    host.ok(&format!("AT+UFTP=7,{}", server.addr.port())).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 7).await;
    host.ok("AT+CGACT=1,1").await;
    login(&mut host, &server, true).await;
    // Radio off: the next operation finds no context.
    host.ok("AT+CFUN=4").await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 7).await;
    host.ok("AT+CFUN=1").await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_resolve_through_the_module_dns_and_its_overrides() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = Modem::new(ModemConfig {
        dns_overrides: vec![("ftp.production.example".into(), server.ip())],
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=1,\"ftp.production.example\"").await;
    host.ok(&format!("AT+UFTP=7,{}", server.addr.port())).await;
    host.ok(&format!("AT+UFTP=2,\"{}\"", server.user)).await;
    host.ok(&format!("AT+UFTP=3,\"{}\"", server.password)).await;
    host.ok("AT+UFTP=6,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.ftp("AT+UFTPC=0", 0, 1, 20).await;
    host.ok("AT+UFTP=1,\"no-such-host.invalid\"").await;
    host.ftp("AT+UFTPC=1", 1, 0, 30).await;
    host.uftper(1, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UFTP=7,{port}")).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_into_a_full_file_system_and_store_of_a_missing_file() {
    let server = libunftp(ServerOptions::default()).await;
    server.put_file("big.bin", common::pattern(5000)).unwrap();
    let modem = Modem::new(ModemConfig {
        fs_size: 1000,
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ftp("AT+UFTPC=4,\"big.bin\",\"big.bin\"", 4, 0, 20)
        .await;
    host.uftper(1, 8).await;
    // What fitted stays, to the last byte, hidden, for a resume once there is room; the name
    // holds nothing that looks complete.
    assert!(!modem.filesystem().exists("big.bin"));
    assert_eq!(modem.filesystem().resume_offset("big.bin").unwrap(), 1000);
    assert_eq!(modem.filesystem().free_space(), 0);
    host.ftp("AT+UFTPC=5,\"absent.bin\",\"x.bin\"", 5, 0, 20)
        .await;
    host.uftper(1, 9).await;
    assert!(!server.root.join("x.bin").exists());
    // The session survived both.
    host.ok("AT+UFTPC=14").await;
    host.data_urc(14, 20).await;
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_over_the_cap_is_cut_at_the_cap() {
    let server = libunftp(ServerOptions::default()).await;
    for i in 0..50 {
        server.put_file(&format!("file-{i:03}.txt"), b"x").unwrap();
    }
    let modem = Modem::new(ModemConfig {
        ftp_listing_cap: 100,
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTPC=14").await;
    let data = host.data_urc(14, 20).await;
    assert_eq!(data.len(), 100);
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_timeout_ends_the_session() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=5,1").await;
    login(&mut host, &server, true).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_operation_while_one_runs_is_refused_and_terminals_keep_answering() {
    // A scripted fake server (a real one cannot be told to hold its greeting): it accepts the
    // connection and stays silent for 2 s, so the login is still running.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .stall(Duration::from_secs(2))
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .expect_eof(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    let mut other = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    host.ok(&format!("AT+UFTP=0,\"{}\"", fake.addr.ip())).await;
    host.ok(&format!("AT+UFTP=7,{}", fake.addr.port())).await;
    host.ok("AT+UFTPC=1").await;
    host.cmd("AT+UFTPC=14", b"\r\n+CME ERROR: operation not allowed\r\n")
        .await;
    host.uftper(1, 2).await;
    for _ in 0..10 {
        host.ok("AT").await;
        other.cmd("AT+CGMI", b"\r\nu-blox\r\n\r\nOK\r\n").await;
    }
    host.expect_within(b"\r\n+UUFTPCR: 1,1\r\n", 10).await;
    host.quiet(50).await;
    other.quiet(50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuing_terminal_disconnecting_before_its_urc_leaves_the_module_consistent() {
    let server = libunftp(ServerOptions::default()).await;
    server.put_file("f.txt", b"data").unwrap();
    let modem = modem();
    let mut first = AtHost::connect(&modem).await;
    login(&mut first, &server, true).await;
    first.ok("AT+UFTPC=4,\"f.txt\",\"f.txt\"").await;
    drop(first);
    let mut second = AtHost::connect(&modem).await;
    // The operation finishes without its terminal; the session is the module's, not the terminal's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    second.uftper(0, 0).await;
    assert_eq!(modem.filesystem().read("f.txt").unwrap(), b"data");
    second.ok("AT+UFTPC=14").await;
    second.data_urc(14, 20).await;
    second.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_appears_in_responses_or_traces() {
    let server = libunftp(ServerOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("trace.jsonl");
    let tracer = ubx_terminal::trace::Tracer::create(&trace_path).unwrap();
    let modem = modem();
    let (io, device) = tokio::io::duplex(1 << 20);
    let m = modem.clone();
    let t = tracer.clone();
    let serve =
        tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, Some(&t)).await });
    let mut host = AtHost::from_stream(io);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTP?").await;
    let profile = host.read_until(b"\r\n\r\nOK\r\n").await;
    assert!(profile.starts_with("\r\n+UFTP: 0,"), "{profile}");
    drop(host);
    serve.await.unwrap().unwrap();
    drop(tracer);
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    assert!(!profile.contains(&server.password), "{profile}");
    assert!(!trace.contains(&server.password), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ftp_command_can_be_injected_through_a_file_name() {
    // The scripted fake server records every command line it receives.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .expect_reply("DELE plain.txt", "250 Deleted")
            .expect_reply("QUIT", "221 Bye"),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    point_at_fake(&mut host, fake.addr).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    let invalid = b"\r\n+CME ERROR: invalid characters in text string\r\n";
    // A LF inside the quotes, a NUL, a tab, DEL: refused before anything is sent.
    for attempt in [
        "AT+UFTPC=2,\"a\nDELE b\"",
        "AT+UFTPC=2,\"a\0DELE b\"",
        "AT+UFTPC=3,\"a\",\"b\tc\"",
        "AT+UFTPC=8,\"x\x7f\"",
    ] {
        host.cmd(attempt, invalid).await;
    }
    // A CR ends the command line itself: the rest is a new line that is not a command.
    host.send("AT+UFTPC=2,\"a\rDELE b\"").await;
    host.expect(b"\r\nERROR\r\n").await;
    host.quiet(100).await;
    host.ftp("AT+UFTPC=2,\"plain.txt\"", 2, 1, 20).await;
    host.ftp("AT+UFTPC=0", 0, 1, 20).await;
    let transcripts = fake.finish(Duration::from_secs(5)).await;
    let commands: Vec<String> = transcripts
        .iter()
        .flat_map(|t| t.commands.clone())
        .collect();
    assert_eq!(commands.len(), 5, "{commands:?}");
    assert!(
        commands[..3]
            .iter()
            .zip(["USER", "PASS", "TYPE I"])
            .all(|(c, p)| c.starts_with(p)),
        "{commands:?}"
    );
    assert_eq!(commands[3..], ["DELE plain.txt", "QUIT"], "{commands:?}");
}

/// A module whose resolver answers `dual.example` with `::1` first, then `127.0.0.1`.
fn dual_stack_modem() -> Modem {
    Modem::new(ModemConfig {
        dns_overrides: vec![
            ("dual.example".into(), "::1".parse().unwrap()),
            ("dual.example".into(), "127.0.0.1".parse().unwrap()),
        ],
        ..ModemConfig::default()
    })
    .unwrap()
}

/// The profile by host name (`dual.example`), passive, with `server`'s port and login.
async fn set_named_profile(host: &mut AtHost, server: &test_servers::RunningServer) {
    host.ok("AT+UFTP=1,\"dual.example\"").await;
    host.ok(&format!("AT+UFTP=7,{}", server.addr.port())).await;
    host.ok(&format!("AT+UFTP=2,\"{}\"", server.user)).await;
    host.ok(&format!("AT+UFTP=3,\"{}\"", server.password)).await;
    host.ok("AT+UFTP=6,1").await;
}

/// Defines `cid` with `pdp_type` and activates it.
async fn second_context(host: &mut AtHost, cid: u8, pdp_type: &str) {
    host.ok(&format!("AT+CGDCONT={cid},\"{pdp_type}\",\"\""))
        .await;
    host.ok(&format!("AT+CGACT=1,{cid}")).await;
}

/// The tail of `AT+UFTP?`: its `+UFTP: 20,…` line and the final result.
async fn profile_cid_line(host: &mut AtHost) -> String {
    host.send("AT+UFTP?").await;
    let profile = host.read_until(b"\r\n\r\nOK\r\n").await;
    let start = profile.find("+UFTP: 20,").expect("line 20");
    profile[start..].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_context_reaches_an_ipv6_only_server_and_an_ip_context_does_not() {
    // The server listens on ::1 only; its name resolves to both families.
    let server = libunftp(ServerOptions {
        ipv6: true,
        ..Default::default()
    })
    .await;
    let modem = dual_stack_modem();
    let mut host = AtHost::connect(&modem).await;
    second_context(&mut host, 2, "IPV6").await;
    second_context(&mut host, 3, "IP").await;
    set_named_profile(&mut host, &server).await;
    host.ok("AT+UFTP=20,2").await;
    assert_eq!(
        profile_cid_line(&mut host).await,
        "+UFTP: 20,2\r\n\r\nOK\r\n"
    );
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
    // Passive mode over IPv6 (EPSV) works too.
    host.ok("AT+UFTPC=14").await;
    host.data_urc(14, 20).await;
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
    host.ftp("AT+UFTPC=0", 0, 1, 20).await;
    // An IP context uses the name's IPv4 address only, where nothing listens.
    host.ok("AT+UFTP=20,3").await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 4).await;
    // An IPv6 literal on an IP context: no address of the context's family.
    host.ok("AT+UFTP=0,\"::1\"").await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 3).await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_context_does_not_fall_back_to_an_ipv4_only_server() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = dual_stack_modem();
    let mut host = AtHost::connect(&modem).await;
    second_context(&mut host, 2, "IPV6").await;
    set_named_profile(&mut host, &server).await;
    host.ok("AT+UFTP=20,2,0").await;
    // The preferred protocol only matters for IPV4V6: the IPv6 context still uses ::1 only.
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 4).await;
    host.ok(&format!("AT+UFTP=0,\"{}\"", server.ip())).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 3).await;
    // The same profile on the default IPV4V6 context logs in.
    host.ok("AT+UFTP=20,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
    host.quiet(100).await;
}

/// A stand-in on `[::1]:port` that greets, refuses every login with `530` and answers QUIT;
/// returns how many connections it has had.
async fn ipv6_impostor(port: u16) -> Arc<AtomicUsize> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind(("::1", port))
        .await
        .expect("the server's port is free on ::1");
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 IPv6 impostor\r\n").await;
            while let Ok(Some(line)) = lines.next_line().await {
                let quit = line.to_ascii_uppercase().starts_with("QUIT");
                let reply: &[u8] = if quit {
                    b"221 Bye\r\n"
                } else {
                    b"530 Not on IPv6\r\n"
                };
                let _ = write.write_all(reply).await;
                if quit {
                    break;
                }
            }
        }
    });
    connections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preferred_protocol_orders_the_families_of_an_ipv4v6_context() {
    // The real server on 127.0.0.1:P, an impostor refusing every login on [::1]:P, and a name
    // that resolves to ::1 first: which one answers shows which family the module tried first.
    let server = libunftp(ServerOptions::default()).await;
    let impostor = ipv6_impostor(server.addr.port()).await;
    let modem = dual_stack_modem();
    let mut host = AtHost::connect(&modem).await;
    set_named_profile(&mut host, &server).await;
    // cid 1 is IPV4V6; no preference means IPv4.
    host.ok("AT+UFTP=20,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
    assert_eq!(impostor.load(Ordering::SeqCst), 0);
    host.ok("AT+UFTP=20,1,1").await;
    assert_eq!(
        profile_cid_line(&mut host).await,
        "+UFTP: 20,1,1\r\n\r\nOK\r\n"
    );
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 530).await;
    assert_eq!(impostor.load(Ordering::SeqCst), 1);
    host.ok("AT+UFTP=20,1,0").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
    assert_eq!(impostor.load(Ordering::SeqCst), 1);
    host.quiet(100).await;
}

/// `AT+UFTP?` with every value at its factory setting.
const FACTORY_PROFILE: &[u8] = b"\r\n+UFTP: 0,\"\"\r\n+UFTP: 1,\"\"\r\n+UFTP: 2,\"\"\r\n+UFTP: 4,\"\"\r\n+UFTP: 5,30,60,60\r\n+UFTP: 6,0\r\n+UFTP: 7,21\r\n+UFTP: 8,0\r\n+UFTP: 9,0\r\n+UFTP: 10,0\r\n+UFTP: 11,-1\r\n+UFTP: 12,0\r\n+UFTP: 20,1\r\n\r\nOK\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_the_resources_resets_the_profile_and_ends_the_session() {
    let server = libunftp(ServerOptions::default()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=5,100,10,20").await;
    host.ok("AT+UFTP=12,0,2").await;
    host.ok("AT+UFTP=20,1,1").await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTP=30,0").await;
    host.cmd("AT+UFTP?", FACTORY_PROFILE).await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
    // The profile works again once it is set again.
    login(&mut host, &server, true).await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_the_resources_stops_a_running_fota_download() {
    // A scripted server sends 100 KiB of a 1 MB image and waits: the download is running when
    // the resources are released. The module must ABOR it, then QUIT.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .expect_reply("SIZE fw.bin", "213 1000000")
            .pasv()
            .expect_reply("RETR fw.bin", "150 Opening BINARY mode data connection")
            .accept_data()
            .data_send(vec![0x5a; 100 * 1024])
            .expect_reply("ABOR", "426 Transfer aborted")
            .reply("226 ABOR successful")
            .expect_reply("QUIT", "221 Bye")
            .expect_eof(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    point_at_fake(&mut host, fake.addr).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.ok("AT+UFTPC=100,\"fw.bin\"").await;
    // Wait until the RETR is under way (the data has been sent once RETR was answered).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !fake
        .transcripts()
        .iter()
        .any(|t| t.commands.iter().any(|c| c == "RETR fw.bin"))
    {
        assert!(std::time::Instant::now() < deadline, "no RETR");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // 100 KiB of 1 000 000 is past the first 64 KiB progress step.
    let progress = host.urc_line(5).await;
    assert!(
        progress.starts_with("+UUFTPCR: 100,") && progress.ends_with(" / 1000000"),
        "{progress:?}"
    );
    host.ok("AT+UFTP=30,0").await;
    host.expect_within(b"\r\n+UUFTPCR: 100,0\r\n", 10).await;
    host.uftper(1, 13).await;
    // Everything that arrived stays in the FOTA area, for a resume.
    assert_eq!(modem.filesystem().fota_partial_size().unwrap(), 100 * 1024);
    host.cmd("AT+UFTP?", FACTORY_PROFILE).await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
    host.quiet(100).await;
    let transcripts = fake.finish(Duration::from_secs(5)).await;
    assert_eq!(transcripts.len(), 1);
    assert_eq!(
        transcripts[0].outcome,
        test_servers::fake::Outcome::Completed,
        "{transcripts:?}"
    );
    let commands = &transcripts[0].commands;
    assert_eq!(
        commands[commands.len() - 3..],
        ["RETR fw.bin", "ABOR", "QUIT"],
        "{commands:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_tls_refused_by_a_plain_server_is_its_reply_code() {
    // libunftp without a certificate answers AUTH TLS with 502: a server refusal (class 0).
    let server = libunftp(ServerOptions::default()).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    // No validation (the factory level is 1): the refusal is the server's, not the profile's.
    host.ok("AT+USECPRF=0,0,0").await;
    host.ok("AT+UFTP=8,1").await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 502).await;
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tls_handshake_is_class_1_code_6() {
    // The server accepts AUTH TLS, then answers the ClientHello with plain text.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .expect_reply("AUTH TLS", "234 Proceed with negotiation")
            .stall(Duration::from_millis(300))
            .send("this is not TLS\r\n")
            .close(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    // No validation (the factory level is 1): the handshake itself is what fails.
    host.ok("AT+USECPRF=0,0,0").await;
    host.ok("AT+UFTP=8,1").await;
    point_at_fake(&mut host, fake.addr).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 6).await;
    host.quiet(100).await;
    let transcripts = fake.finish(Duration::from_secs(5)).await;
    assert_eq!(transcripts[0].commands, ["AUTH TLS"], "{transcripts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_data_alone_turns_auth_tls_on() {
    // AT+UFTP=12,1 with AT+UFTP=8,0: AUTH TLS first, then PROT P (docs/FIDELITY.md). A scripted
    // server shows the commands; it refuses AUTH TLS, so nothing goes over plain text after it.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .expect_reply("AUTH TLS", "504 Security mechanism not understood")
            .expect_reply("QUIT", "221 Bye")
            .expect_eof(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    // No validation (the factory level is 1): libunftp's test certificate is not imported.
    host.ok("AT+USECPRF=0,0,0").await;
    host.ok("AT+UFTP=8,0").await;
    host.ok("AT+UFTP=12,1").await;
    point_at_fake(&mut host, fake.addr).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 504).await;
    let transcripts = fake.finish(Duration::from_secs(5)).await;
    assert_eq!(
        transcripts[0].commands,
        ["AUTH TLS", "QUIT"],
        "{transcripts:?}"
    );
    assert_eq!(
        transcripts[0].outcome,
        test_servers::fake::Outcome::Completed,
        "{transcripts:?}"
    );

    // Against a TLS-capable server: login and a retrieve over a protected data connection.
    let server = libunftp(ServerOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    server.put_file("secret.txt", b"private data\n").unwrap();
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    host.send("AT+UFTP?").await;
    let profile = host.read_until(b"\r\n\r\nOK\r\n").await;
    assert!(
        profile.contains("\r\n+UFTP: 8,0\r\n") && profile.contains("\r\n+UFTP: 12,1\r\n"),
        "{profile}"
    );
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.uftper(0, 0).await;
    host.ftp("AT+UFTPC=4,\"secret.txt\",\"secret.txt\"", 4, 1, 20)
        .await;
    host.uftper(0, 0).await;
    host.cmd(
        "AT+URDFILE=\"secret.txt\"",
        b"\r\n+URDFILE: \"secret.txt\",13,\"private data\n\"\r\nOK\r\n",
    )
    .await;
    host.ftp("AT+UFTPC=0", 0, 1, 20).await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrieve_cut_mid_way_keeps_what_arrived() {
    // A scripted server resets the data connection after 100 KiB: the module keeps those bytes
    // (far less than one spool chunk) so that a resume can continue from them.
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .pasv()
            .expect_reply("RETR big.bin", "150 Opening BINARY mode data connection")
            .accept_data()
            .data_send(common::pattern(100 * 1024))
            .data_reset()
            .reply("426 Connection closed; transfer aborted.")
            .read_line(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    point_at_fake(&mut host, fake.addr).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.ftp("AT+UFTPC=4,\"big.bin\",\"big.bin\"", 4, 0, 20)
        .await;
    host.uftper(0, 426).await;
    assert!(!modem.filesystem().exists("big.bin"));
    assert_eq!(
        modem.filesystem().resume_offset("big.bin").unwrap(),
        100 * 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_beyond_the_remote_end_fails_and_leaves_the_file() {
    let server = libunftp(ServerOptions::default()).await;
    server.put_file("f.bin", common::pattern(1000)).unwrap();
    let modem = modem();
    let local = common::pattern(2000);
    modem.filesystem().append("f.bin", &local).unwrap();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ftp("AT+UFTPC=4,\"f.bin\",\"f.bin\",1", 4, 0, 20).await;
    host.uftper(1, 20).await;
    assert!(modem.filesystem().read("f.bin").unwrap() == local);
    // At the end exactly, there is nothing left to fetch: a success that changes nothing.
    server.put_file("f.bin", &local).unwrap();
    host.ftp("AT+UFTPC=4,\"f.bin\",\"f.bin\",1", 4, 1, 20).await;
    assert!(modem.filesystem().read("f.bin").unwrap() == local);
}
