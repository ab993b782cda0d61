//! The FTP AT service against real servers started by the tests: vsftpd, pure-ftpd, proftpd and
//! pyftpdlib, in passive and active mode, plain and with `+UFTP=8/12` (PROT P and PROT C); and
//! the fault cases that need a server killed or stalled mid-transfer: resumed retrieve, resumed
//! store, resumed FOTA download, suspended FOTA, a server stalling past the inactivity timeout.

mod common;

use std::time::Duration;

use common::{AtHost, login, pattern, session_flow, set_profile};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use ubx_modem::fs::storage::md5_hex;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

async fn server(kind: Kind, tls: bool) -> RunningServer {
    start(
        kind,
        ServerOptions {
            tls,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

macro_rules! flows {
    ($($name:ident: $kind:expr, passive = $passive:expr, tls = $tls:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let tls: Option<bool> = $tls;
                let s = server($kind, tls.is_some()).await;
                session_flow(&s, &modem(), $passive, tls).await;
            }
        )*
    };
}

flows! {
    vsftpd_passive: Kind::Vsftpd, passive = true, tls = None;
    vsftpd_active: Kind::Vsftpd, passive = false, tls = None;
    vsftpd_ftps_prot_p: Kind::Vsftpd, passive = true, tls = Some(true);
    vsftpd_ftps_prot_c: Kind::Vsftpd, passive = false, tls = Some(false);
    pureftpd_passive: Kind::PureFtpd, passive = true, tls = None;
    pureftpd_active: Kind::PureFtpd, passive = false, tls = None;
    pureftpd_ftps_prot_p: Kind::PureFtpd, passive = false, tls = Some(true);
    pureftpd_ftps_prot_c: Kind::PureFtpd, passive = true, tls = Some(false);
    proftpd_passive: Kind::Proftpd, passive = true, tls = None;
    proftpd_active: Kind::Proftpd, passive = false, tls = None;
    proftpd_ftps_prot_p: Kind::Proftpd, passive = true, tls = Some(true);
    proftpd_ftps_prot_c: Kind::Proftpd, passive = false, tls = Some(false);
    pyftpdlib_passive: Kind::Pyftpdlib, passive = true, tls = None;
    pyftpdlib_active: Kind::Pyftpdlib, passive = false, tls = None;
    pyftpdlib_ftps_prot_p: Kind::Pyftpdlib, passive = true, tls = Some(true);
    pyftpdlib_ftps_prot_c: Kind::Pyftpdlib, passive = false, tls = Some(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_server_over_epsv_and_eprt() {
    for passive in [true, false] {
        let s = start(
            Kind::Vsftpd,
            ServerOptions {
                ipv6: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        session_flow(&s, &modem(), passive, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_step_with_pyftpdlib() {
    let s = server(Kind::Pyftpdlib, false).await;
    let acct = s.account_login.clone().expect("pyftpdlib has an ACCT user");
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    set_profile(&mut host, s.addr, &acct.user, &acct.password, true).await;
    host.ok("AT+UFTP=4,\"wrong\"").await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 530).await;
    host.ok(&format!("AT+UFTP=4,\"{}\"", acct.account)).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn information_of_a_single_file() {
    let s = server(Kind::Vsftpd, false).await;
    s.put_file("data.zip", b"zipzip").unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &s, true).await;
    host.ok("AT+UFTPC=13,\"data.zip\"").await;
    let info = String::from_utf8(host.data_urc(13, 20).await).unwrap();
    host.expect(b"\r\n+UUFTPCR: 13,1\r\n").await;
    assert!(
        info.contains("data.zip") && info.ends_with("\r\n"),
        "{info:?}"
    );
    host.ok("AT+UFTPC=14,\"data.zip\"").await;
    let names = host.data_urc(14, 20).await;
    host.expect(b"\r\n+UUFTPCR: 14,1\r\n").await;
    assert_eq!(names, b"data.zip\r\n");
}

/// Waits until `size()` reports more than `at_least` bytes, then freezes the server.
async fn pause_when(s: &RunningServer, at_least: u64, size: impl Fn() -> u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while size() <= at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "transfer did not start"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    s.pause().unwrap();
}

fn random_bytes(len: usize) -> Vec<u8> {
    // A cheap deterministic generator: the content only has to differ from a pattern a bug
    // could reproduce by accident.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const BIG: usize = 64 << 20;

async fn repoint(host: &mut AtHost, s: &RunningServer) {
    host.ok(&format!("AT+UFTP=7,{}", s.addr.port())).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_cut_by_a_killed_server_resumes_byte_identical() {
    let image = random_bytes(BIG);
    let mut first = server(Kind::Vsftpd, false).await;
    first.put_file("big.bin", &image).unwrap();
    let modem = modem();
    let fs = modem.filesystem().clone();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &first, true).await;
    host.ok("AT+UFTPC=4,\"big.bin\",\"big.bin\"").await;
    pause_when(&first, 0, || fs.resume_offset("big.bin").unwrap_or(0)).await;
    first.kill();
    host.expect_within(b"\r\n+UUFTPCR: 4,0\r\n", 30).await;
    // What arrived waits, hidden, for the resume; the name holds nothing that looks complete.
    assert!(!fs.exists("big.bin"));
    let partial = fs.resume_offset("big.bin").unwrap();
    assert!(partial > 0 && partial < BIG as u64, "partial {partial}");
    let second = server(Kind::Vsftpd, false).await;
    second.put_file("big.bin", &image).unwrap();
    repoint(&mut host, &second).await;
    host.ftp("AT+UFTPC=4,\"big.bin\",\"big.bin\",1", 4, 1, 60)
        .await;
    assert!(fs.read("big.bin").unwrap() == image, "resumed file differs");
    let log = second.read_logs();
    assert!(
        log.contains(&format!("REST {partial}")),
        "the resume used REST {partial}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_cut_by_a_killed_server_resumes_from_an_offset() {
    let image = random_bytes(BIG);
    let mut first = server(Kind::Vsftpd, false).await;
    let modem = modem();
    modem.filesystem().append("up.bin", &image).unwrap();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &first, true).await;
    host.ok("AT+UFTPC=5,\"up.bin\",\"up.bin\"").await;
    let remote = first.root.join("up.bin");
    pause_when(&first, 0, || {
        std::fs::metadata(&remote).map(|m| m.len()).unwrap_or(0)
    })
    .await;
    let partial = std::fs::read(&remote).unwrap();
    first.kill();
    host.expect_within(b"\r\n+UUFTPCR: 5,0\r\n", 30).await;
    assert!(!partial.is_empty() && partial.len() < BIG);
    let second = server(Kind::Vsftpd, false).await;
    second.put_file("up.bin", &partial).unwrap();
    repoint(&mut host, &second).await;
    host.ftp(
        &format!("AT+UFTPC=5,\"up.bin\",\"up.bin\",{}", partial.len()),
        5,
        1,
        60,
    )
    .await;
    assert!(
        std::fs::read(second.root.join("up.bin")).unwrap() == image,
        "resumed upload differs"
    );
}

/// Reads FOTA URCs until the final one; checks progress lines are well formed and increasing.
async fn fota_final(host: &mut AtHost, total: usize) -> String {
    let mut last = 0u64;
    loop {
        let line = host.urc_line(60).await;
        let rest = line
            .strip_prefix("+UUFTPCR: 100,")
            .unwrap_or_else(|| panic!("{line}"));
        if let Some((stored, t)) = rest.split_once(" / ") {
            let stored: u64 = stored.parse().unwrap();
            assert_eq!(t, total.to_string(), "{line}");
            assert!(stored >= last && stored <= total as u64, "{line}");
            last = stored;
        } else {
            return rest.to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fota_download_cut_and_resumed_has_the_right_md5_and_stays_hidden() {
    let image = random_bytes(BIG);
    let mut first = server(Kind::Vsftpd, false).await;
    first.put_file("fw.bin", &image).unwrap();
    let modem = modem();
    let fs = modem.filesystem().clone();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &first, true).await;
    host.ok("AT+UFTPC=100,\"fw.bin\"").await;
    pause_when(&first, 0, || fs.fota_partial_size().unwrap_or(0)).await;
    first.kill();
    assert_eq!(fota_final(&mut host, BIG).await, "0");
    let second = server(Kind::Vsftpd, false).await;
    second.put_file("fw.bin", &image).unwrap();
    repoint(&mut host, &second).await;
    host.ok("AT+UFTPC=100,\"fw.bin\",1").await;
    assert_eq!(
        fota_final(&mut host, BIG).await,
        format!("1,\"{}\"", md5_hex(&image))
    );
    // The image is not a user file.
    host.cmd("AT+ULSTFILE", b"\r\n+ULSTFILE: \r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fota_download_suspended_and_resumed() {
    let image = random_bytes(BIG);
    // pure-ftpd: a vsftpd session frozen (SIGSTOP) in mid-transfer and continued (SIGCONT)
    // stopped answering commands in our runs, with or without ABOR: that would test vsftpd.
    let s = server(Kind::PureFtpd, false).await;
    s.put_file("fw.bin", &image).unwrap();
    let modem = modem();
    let fs = modem.filesystem().clone();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &s, true).await;
    host.ok("AT+UFTPC=100,\"fw.bin\"").await;
    pause_when(&s, 0, || fs.fota_partial_size().unwrap_or(0)).await;
    // Progress URCs sent before the server froze.
    for line in host
        .drain(200)
        .await
        .split("\r\n")
        .filter(|l| !l.is_empty())
    {
        assert!(
            line.starts_with("+UUFTPCR: 100,") && line.contains(" / "),
            "{line}"
        );
    }
    // Suspend while the server is frozen; the other commands keep answering.
    host.ok("AT+UFTPC=100,\"fw.bin\",0").await;
    host.ok("AT").await;
    s.resume().unwrap();
    assert_eq!(fota_final(&mut host, BIG).await, "0");
    host.uftper(1, 13).await;
    let stored = fs.fota_partial_size().unwrap();
    assert!(stored > 0 && stored < BIG as u64);
    host.ok("AT+UFTPC=100,\"fw.bin\",1").await;
    assert_eq!(
        fota_final(&mut host, BIG).await,
        format!("1,\"{}\"", md5_hex(&image))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stalling_past_the_inactivity_timeout_ends_the_session() {
    let s = server(Kind::Vsftpd, false).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=5,2").await;
    login(&mut host, &s, true).await;
    s.pause().unwrap();
    let started = std::time::Instant::now();
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    let waited = started.elapsed();
    host.uftper(1, 5).await;
    s.resume().unwrap();
    assert!(waited >= Duration::from_secs(2), "gave up after {waited:?}");
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    host.uftper(1, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_42000_byte_pattern_round_trips_on_every_server() {
    for kind in [
        Kind::Vsftpd,
        Kind::PureFtpd,
        Kind::Proftpd,
        Kind::Pyftpdlib,
        Kind::Libunftp,
    ] {
        let s = server(kind, false).await;
        let modem = modem();
        modem.filesystem().append("p.bin", &pattern(42000)).unwrap();
        let mut host = AtHost::connect(&modem).await;
        login(&mut host, &s, true).await;
        host.ftp("AT+UFTPC=5,\"p.bin\",\"p.bin\",0", 5, 1, 20).await;
        host.ftp("AT+UFTPC=4,\"p.bin\",\"q.bin\",0", 4, 1, 20).await;
        assert_eq!(
            modem.filesystem().read("q.bin").unwrap(),
            pattern(42000),
            "{kind}"
        );
    }
}

/// Direct link against a real server: a store through `+++` and the same file back, from the
/// start and from an offset, byte for byte, and the server's own refusal before `CONNECT`.
async fn direct_link_flow(kind: Kind, passive: bool) {
    let s = server(kind, false).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &s, passive).await;
    host.ok("ATS12=10").await;
    let mut file = b"+++\r\nOK\r\nDISCONNECT\r\n".to_vec();
    file.extend(pattern(300_000));
    host.send("AT+UFTPC=7,\"dl.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    {
        use tokio::io::AsyncWriteExt;
        host.io.write_all(&file).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        host.io.write_all(b"+++").await.unwrap();
    }
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 7,1\r\n", 20)
        .await;
    assert!(std::fs::read(s.root.join("dl.bin")).unwrap() == file);
    host.send("AT+UFTPC=6,\"dl.bin\"").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    assert!(host.take(file.len(), 20).await == file);
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 20)
        .await;
    host.send("AT+UFTPC=6,\"dl.bin\",1000").await;
    host.expect_within(b"\r\nCONNECT\r\n", 10).await;
    assert!(host.take(file.len() - 1000, 20).await == file[1000..]);
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n\r\n+UUFTPCR: 6,1\r\n", 20)
        .await;
    host.uftper(0, 0).await;
    // A missing file: the server's 550 before any data, so no CONNECT.
    host.cmd(
        "AT+UFTPC=6,\"missing.bin\"",
        b"\r\nERROR\r\n\r\n+UUFTPCR: 6,0\r\n",
    )
    .await;
    host.uftper(0, 550).await;
    host.ftp("AT+UFTPC=0", 0, 1, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_vsftpd_passive() {
    direct_link_flow(Kind::Vsftpd, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_vsftpd_active() {
    direct_link_flow(Kind::Vsftpd, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_pureftpd_passive() {
    direct_link_flow(Kind::PureFtpd, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_pureftpd_active() {
    direct_link_flow(Kind::PureFtpd, false).await;
}

/// vsftpd refuses a STOR into a missing directory at once (553): no CONNECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_store_refused_before_connect() {
    let s = server(Kind::Vsftpd, false).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &s, true).await;
    host.cmd(
        "AT+UFTPC=7,\"no/such/dir/f.bin\"",
        b"\r\nERROR\r\n\r\n+UUFTPCR: 7,0\r\n",
    )
    .await;
    host.uftper(0, 553).await;
}
