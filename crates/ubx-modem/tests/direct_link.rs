//! FTP direct link (`AT+UFTPC=6/7`) against libunftp in-process: the exact bytes a host sees
//! around the data, the escape sequence, errors before `CONNECT`, the one-link rule, a host that
//! goes away, and the failures of a server mid-transfer (the scripted fake server, for the faults
//! a real server cannot be made to produce). The same flows against vsftpd and pure-ftpd, passive
//! and active, are in ftp_servers.rs.

mod common;

use std::time::Duration;

use common::{AtHost, login, pattern};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use tokio::io::AsyncWriteExt;
use ubx_modem::{Modem, ModemConfig};

async fn libunftp() -> RunningServer {
    start(Kind::Libunftp, ServerOptions::default())
        .await
        .expect("libunftp")
}

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

/// A file that holds everything a data-mode parser could trip on: every byte value, `+++`,
/// `OK`, `DISCONNECT`, CR LF, an AT command.
fn tricky(len: usize) -> Vec<u8> {
    let mut data = b"+++\r\nOK\r\nDISCONNECT\r\n\r\nAT+UFTPC=0\r\n+++".to_vec();
    data.extend(pattern(len));
    data.extend_from_slice(b"\r\nDISCONNECT\r\n+++");
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_sends_the_file_then_leaves_by_itself() {
    let server = libunftp().await;
    let file = tricky(300_000);
    server.put_file("tricky.bin", &file).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=6,\"tricky.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    assert!(host.take(file.len(), 20).await == file);
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 10)
        .await;
    host.uftper(0, 0).await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_from_an_offset_sends_rest() {
    let server = libunftp().await;
    let file = pattern(10_000);
    server.put_file("p.bin", &file).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=6,\"p.bin\",9000").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    assert_eq!(host.take(1000, 10).await, file[9000..]);
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 10)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_takes_every_byte_until_the_framed_escape() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    // A guard time of 0.2 s keeps the test short; the factory second is tested below.
    host.ok("ATS12=10").await;
    host.send("AT+UFTPC=7,\"up.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    let file = tricky(200_000);
    host.io.write_all(&file).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    assert!(std::fs::read(server.root.join("up.bin")).unwrap() == file);
    host.uftper(0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_with_factory_guard_time_and_a_split_escape() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=7,\"split.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"a+b++c+++d").await.unwrap();
    // The chapter: wait at least 2 s, then +++; here one `+` at a time, 0.3 s apart.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        host.io.write_all(b"+").await.unwrap();
    }
    host.quiet(300).await; // the guard time after the third is not over yet
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    assert_eq!(
        std::fs::read(server.root.join("split.txt")).unwrap(),
        b"a+b++c+++d"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_at_an_offset_resumes_the_remote_file() {
    let server = libunftp().await;
    server.put_file("r.bin", b"0123456789").unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"r.bin\",4").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"abcdef").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    assert_eq!(
        std::fs::read(server.root.join("r.bin")).unwrap(),
        b"0123abcdef"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_ends_a_retrieve_early_while_the_host_reads_nothing() {
    let server = libunftp().await;
    server.put_file("big.bin", pattern(8 << 20)).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=6,\"big.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    // Read nothing for a while: the module must not run away with the file.
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.io.write_all(b"+++").await.unwrap();
    // Still not reading through the guard time after the escape (reading at once would let
    // the rest of the file through before the escape is certain).
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Drain what was in flight until the exit appears.
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,0\r\n";
    let got = host.take_until(tail, 20).await;
    let data = &got[..got.len() - tail.len()];
    assert!(
        data.len() < 4 << 20,
        "backpressure: {} bytes were in flight",
        data.len()
    );
    assert!(
        data == &pattern(data.len())[..],
        "a clean prefix of the file"
    );
    host.uftper(1, 15).await;
    // The session is still usable.
    host.ok("AT+UFTPC=14").await;
    assert_eq!(host.data_urc(14, 10).await, b"big.bin\r\n");
    host.expect_within(b"\r\n+UUFTPCR: 14,1\r\n", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_before_connect_get_an_error_and_no_data_mode() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CMEE=2").await;
    // Not logged in.
    host.cmd(
        "AT+UFTPC=6,\"x\"",
        b"\r\n+CME ERROR: operation not allowed\r\n\r\n+UUFTPCR: 6,0\r\n",
    )
    .await;
    host.uftper(1, 1).await;
    login(&mut host, &server, true).await;
    // The server refuses the file.
    host.cmd(
        "AT+UFTPC=6,\"missing.bin\"",
        b"\r\n+CME ERROR: operation not allowed\r\n\r\n+UUFTPCR: 6,0\r\n",
    )
    .await;
    host.uftper(0, 550).await;
    // libunftp accepts a STOR into a missing directory with 150 and refuses only when the file
    // is closed: the refusal comes after the escape (vsftpd's immediate 553 is in
    // ftp_servers.rs).
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"no/such/dir/f\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"data").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,0\r\n", 10)
        .await;
    host.uftper(0, 550).await;
    // Bad parameters are refused at once, with no URC.
    host.cmd("AT+UFTPC=6", b"\r\nERROR\r\n").await;
    host.cmd(
        "AT+UFTPC=6,\"a\u{0}b\"",
        b"\r\n+CME ERROR: invalid characters in text string\r\n",
    )
    .await;
    host.cmd(
        "AT+UFTPC=7,\"f\",-1",
        b"\r\n+CME ERROR: operation not supported\r\n",
    )
    .await;
    host.cmd("AT+UFTPC=7,\"f\",1,2", b"\r\nERROR\r\n").await;
    // The test command stays the chapter's.
    host.cmd(
        "AT+UFTPC=?",
        b"\r\n+UFTPC: (0-5,8,10,11,13,14,100)\r\n\r\nOK\r\n",
    )
    .await;
    host.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_direct_link_per_module() {
    let server = libunftp().await;
    let modem = Modem::new(ModemConfig {
        dns_overrides: vec![("peer.example".into(), "192.0.2.1".parse().unwrap())],
        ..ModemConfig::default()
    })
    .unwrap();
    let mut first = AtHost::connect(&modem).await;
    let mut second = AtHost::connect(&modem).await;
    second.ok("AT+CMEE=2").await;
    login(&mut first, &server, true).await;
    first.send("AT+UFTPC=7,\"one.txt\"").await;
    first.expect_within(b"\r\nCONNECT\r\n", 10).await;
    second
        .cmd(
            "AT+UFTPC=6,\"one.txt\"",
            b"\r\n+CME ERROR: operation not allowed\r\n",
        )
        .await;
    // The chapter counts +FREAD and +ULSTFILE op 0 as direct links too.
    second
        .cmd(
            "AT+ULSTFILE=0",
            b"\r\n+CME ERROR: operation not allowed\r\n",
        )
        .await;
    second
        .cmd(
            "AT+FREAD=1,10",
            b"\r\n+CME ERROR: operation not allowed\r\n",
        )
        .await;
    // The other terminal keeps working, and its URCs reach it at once.
    second.cmd("AT+CGMI", b"\r\nu-blox\r\n\r\nOK\r\n").await;
    second
        .cmd(
            "AT+UDNSRN=0,\"peer.example\"",
            b"\r\nOK\r\n\r\n+UUDNSRN: 0,\"192.0.2.1\"\r\n",
        )
        .await;
    first.io.write_all(b"one").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    first.io.write_all(b"+++").await.unwrap();
    first
        .expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    second.quiet(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_goes_away_aborts_and_the_session_survives() {
    let server = libunftp().await;
    server.put_file("big.bin", pattern(4 << 20)).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=6,\"big.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    drop(host);
    let mut other = AtHost::connect(&modem).await;
    // The aborted retrieve frees the service within moments.
    let mut tries = 0;
    loop {
        other.send("AT+UFTPC=14").await;
        other.expect(b"\r\n").await;
        let line = other.read_until(b"\r\n").await;
        if line == "OK\r\n" {
            break;
        }
        tries += 1;
        assert!(tries < 50, "still busy: {line:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = other.data_urc(14, 10).await;
    other.expect_within(b"\r\n+UUFTPCR: 14,1\r\n", 10).await;
    other.uftper(0, 0).await;
    // A store whose host goes away is aborted: nothing claims it complete.
    other.send("AT+UFTPC=7,\"gone.txt\"").await;
    other.expect_within(b"\r\nCONNECT\r\n", 10).await;
    other.io.write_all(b"partial").await.unwrap();
    drop(other);
    let mut third = AtHost::connect(&modem).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    third.uftper(1, 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_host_in_a_store_meets_the_inactivity_timeout() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTP=5,1").await;
    host.send("AT+UFTPC=7,\"slow.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"some").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,0\r\n", 5)
        .await;
    host.uftper(1, 10).await;
    // The session ended with it.
    host.ftp("AT+UFTPC=14", 14, 0, 10).await;
    host.uftper(1, 1).await;
}

/// The scripted fake server, for what a real server cannot be made to do on cue: reset the data
/// connection mid-retrieve, then explain with 426.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_connection_reset_mid_retrieve_ends_data_mode_with_0() {
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .pasv()
            .expect_reply("RETR cut.bin", "150 Opening BINARY mode data connection")
            .accept_data()
            .data_send(vec![0x5a; 100 * 1024])
            .stall(Duration::from_millis(100))
            .data_reset()
            .reply("426 Connection closed; transfer aborted.")
            .expect_eof(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    fake_login(&mut host, fake.addr).await;
    host.send("AT+UFTPC=6,\"cut.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,0\r\n";
    let got = host.take_until(tail, 10).await;
    let data = &got[..got.len() - tail.len()];
    assert!(data.len() <= 100 * 1024 && data.iter().all(|&b| b == 0x5a));
    host.uftper(0, 426).await;
}

/// The fake server resets the data connection of a store: the module finds out when it next
/// writes (or at the escape), and reports the server's 426.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_connection_reset_mid_store_reports_0() {
    use test_servers::fake::{FakeServer, Script};
    let fake = FakeServer::start(
        Script::new()
            .greet()
            .login()
            .expect_reply("TYPE I", "200 Type set to I")
            .pasv()
            .expect_reply("STOR cut.bin", "150 Ok to send data")
            .accept_data()
            .stall(Duration::from_millis(200))
            .data_reset()
            .reply("426 Connection closed; transfer aborted.")
            .expect_eof(),
    )
    .await
    .unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    fake_login(&mut host, fake.addr).await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"cut.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"first").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,0\r\n", 10)
        .await;
    host.uftper(0, 426).await;
}

async fn fake_login(host: &mut AtHost, addr: std::net::SocketAddr) {
    common::point_at_fake(host, addr).await;
    host.ftp("AT+UFTPC=1", 1, 1, 10).await;
}

/// `--trace` records data-mode bytes as data (`data-in` / `data-out`), in order with the
/// command lines around them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_record_data_mode_bytes_as_data() {
    let server = libunftp().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.jsonl");
    let tracer = ubx_terminal::trace::Tracer::create(&path).unwrap();
    let modem = modem();
    let (io, device) = tokio::io::duplex(1 << 20);
    let (m, t) = (modem.clone(), tracer.clone());
    let serve =
        tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, Some(&t)).await });
    let mut host = AtHost::from_stream(io);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    login(&mut host, &server, true).await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"t.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io
        .write_all(b"AT+UFTP=3,\"not-a-secret\"\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    host.send("AT+UFTPC=6,\"t.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    assert_eq!(host.take(26, 10).await, b"AT+UFTP=3,\"not-a-secret\"\r\n");
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 10)
        .await;
    drop(host);
    serve.await.unwrap().unwrap();
    drop(tracer);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let data = |dir: &str| -> String {
        records
            .iter()
            .filter(|r| r["dir"] == dir)
            .map(|r| r["data"].as_str().unwrap().to_string())
            .collect()
    };
    // The file is the user's: carried and traced as it is, not masked like a command.
    assert_eq!(data("data-in"), r#"AT+UFTP=3,"not-a-secret"\r\n+++"#);
    assert_eq!(data("data-out"), r#"AT+UFTP=3,"not-a-secret"\r\n"#);
    assert!(data("in").contains("AT+UFTPC=7"), "{records:?}");
    assert!(!data("in").contains("not-a-secret"), "{records:?}");
}

/// A host that reads nothing (a PTY or serial host that went away looks the same) for the
/// inactivity time ends the retrieve, and the service is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_reads_nothing_meets_the_inactivity_timeout() {
    let server = libunftp().await;
    server.put_file("big.bin", pattern(8 << 20)).unwrap();
    let modem = modem();
    let (io, device) = tokio::io::duplex(64 * 1024);
    let m = modem.clone();
    tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, None).await });
    let mut host = AtHost::from_stream(io);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTP=5,1").await;
    host.send("AT+UFTPC=6,\"big.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut other = AtHost::connect(&modem).await;
    other.uftper(1, 10).await;
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,0\r\n";
    host.take_until(tail, 10).await;
}

/// DTR dropped by the host (the serial transport's report) ends a store like `+++`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtr_drop_ends_a_store() {
    let server = libunftp().await;
    let modem = modem();
    let (io, device) = tokio::io::duplex(1 << 20);
    let (dtr, dtr_rx) = tokio::sync::watch::channel(true);
    let m = modem.clone();
    tokio::spawn(async move {
        let lines = ubx_terminal::driver::HostLines {
            dtr: Some(dtr_rx),
            ..Default::default()
        };
        ubx_terminal::driver::serve_with_lines(&m, device, None, lines).await
    });
    let mut host = AtHost::from_stream(io);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=7,\"dtr.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"until DTR drops++").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    dtr.send(false).unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    assert_eq!(
        std::fs::read(server.root.join("dtr.txt")).unwrap(),
        b"until DTR drops++"
    );
    // Under &D0 a DTR drop changes nothing.
    dtr.send(true).unwrap();
    host.ok("AT&D0").await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"dtr0.txt\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"x").await.unwrap();
    dtr.send(false).unwrap();
    host.quiet(300).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
}

/// A host faster than the server: its file and, after its pause, `+++` reach the module's
/// terminal while earlier data still waits for the server. The escape is still seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_after_a_backlog_is_still_the_escape() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("ATS12=5").await;
    host.send("AT+UFTPC=7,\"fast.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    let file = pattern(300 * 1024);
    host.io.write_all(&file).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 20)
        .await;
    assert!(std::fs::read(server.root.join("fast.bin")).unwrap() == file);
}

/// The size of a file on the server's disk, 0 while it does not exist.
fn size_on_server(server: &RunningServer, name: &str) -> u64 {
    std::fs::metadata(server.root.join(name)).map_or(0, |m| m.len())
}

/// Waits up to 2 s for the server's copy of `name` to reach `len` bytes.
async fn server_reaches(server: &RunningServer, name: &str, len: u64) {
    for _ in 0..200 {
        if size_on_server(server, name) == len {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{name}: {} bytes on the server, not {len}",
        size_on_server(server, name)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_triggers_decide_when_host_bytes_reach_the_server() {
    let server = libunftp().await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("ATS12=10").await;
    // Data length 1024 and character LF: whichever comes first.
    host.ok("AT+UFTP=10,1024").await;
    host.ok("AT+UFTP=11,10").await;
    host.send("AT+UFTPC=7,\"t.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(&[b'x'; 100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        size_on_server(&server, "t.bin"),
        0,
        "held: no trigger fired"
    );
    host.io.write_all(&[b'y'; 1000]).await.unwrap();
    server_reaches(&server, "t.bin", 1024).await;
    host.io.write_all(b"line\nrest").await.unwrap();
    server_reaches(&server, "t.bin", 1100 + 5).await;
    // The rest goes when the host leaves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
    assert_eq!(size_on_server(&server, "t.bin"), 1109);
    // The timer: 200 ms after the oldest held byte, with length and character off again.
    host.ok("AT+UFTP=10,0").await;
    host.ok("AT+UFTP=11,-1").await;
    host.ok("AT+UFTP=9,200").await;
    host.send("AT+UFTPC=7,\"timer.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    host.io.write_all(b"abc").await.unwrap();
    server_reaches(&server, "timer.bin", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 10)
        .await;
}

/// A retrieve toward a UART at 9600 baud (960 bytes/s): the module holds less than
/// `HOST_WINDOW` (4 KiB) for the line (docs/FIELD.md), so `+++` ends it after the guard time and
/// that little — the abort, not a success once the whole file has crawled out of buffers. What
/// the host got is a prefix of the file, and a retrieve from its length gets the rest. Real
/// time: the assertions are byte counts and result codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_ends_a_retrieve_toward_a_9600_baud_uart_after_a_few_kib() {
    let server = libunftp().await;
    let file = pattern(100_000);
    server.put_file("slow.bin", &file).unwrap();
    let modem = modem();
    let mut host = common::paced_host(&modem, 9600).await;
    login(&mut host, &server, true).await;
    host.send("AT+UFTPC=6,\"slow.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    // The host has sent nothing since the command, so the guard time before the escape is met.
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,0\r\n";
    let (mut got, after) = host.escape_mid_stream(tail, 60).await;
    let bound = common::AFTER_ESCAPE_AT_9600;
    assert!(
        after <= bound,
        "{after} bytes after the escape (at most {bound})"
    );
    assert!(got == file[..got.len()], "a clean prefix of the file");
    host.uftper(1, 15).await;
    // The part is kept by the host: a retrieve from its length gets the rest, faster.
    host.ok("AT+IPR=921600").await;
    host.send(&format!("AT+UFTPC=6,\"slow.bin\",{}", got.len()))
        .await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    got.extend(host.take(file.len() - got.len(), 30).await);
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 10)
        .await;
    assert!(got == file, "the part and the rest make the file");
}
