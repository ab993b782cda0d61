//! Every fault target and action end to end: a module with a fault set, a real FTP server
//! (libunftp in-process, vsftpd) and a terminal that sees exactly what a host would.

mod common;

use std::time::Duration;

use common::{AtHost, login, modem_with_link, pattern};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use ubx_modem::field::spec::{Action, FaultSpec, Target};
use ubx_modem::model::Model;
use ubx_modem::{Modem, ModemConfig, Power};

async fn server(kind: Kind) -> RunningServer {
    start(kind, ServerOptions::default()).await.expect("server")
}

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

fn add(modem: &Modem, spec: FaultSpec) -> u64 {
    modem
        .field()
        .faults
        .add(spec.validate(modem.max_cid()).expect("valid fault"))
}

fn fault(target: Target, action: Action) -> FaultSpec {
    FaultSpec {
        target: Some(target),
        action: Some(action),
        ..FaultSpec::default()
    }
}

fn fired(modem: &Modem, id: u64) -> u32 {
    modem
        .field()
        .faults
        .list()
        .iter()
        .find(|e| e.id == id)
        .map_or(0, |e| e.fired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_reset_mid_retrieve_and_the_resume_that_completes_it() {
    let server = server(Kind::Libunftp).await;
    let file = pattern(300_000);
    server.put_file("big.bin", &file).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    let id = add(
        &modem,
        FaultSpec {
            on_op: Some(4),
            after_bytes: Some(100_000),
            ..fault(Target::FtpData, Action::Reset)
        },
    );
    host.ftp("AT+UFTPC=4,\"big.bin\",\"big.bin\"", 4, 0, 20)
        .await;
    assert_eq!(fired(&modem, id), 1);
    // The connection was lost (1,11), or the server saw it go first and said 426.
    host.send("AT+UFTPER").await;
    let error = host.urc_line(5).await;
    assert!(
        error == "+UFTPER: 1,11" || error == "+UFTPER: 0,426",
        "{error}"
    );
    host.expect(b"\r\nOK\r\n").await;
    // The name holds nothing that looks complete; what arrived waits hidden for a resume.
    assert!(!modem.filesystem().exists("big.bin"));
    let part = modem.filesystem().resume_offset("big.bin").unwrap();
    assert!(part >= 100_000 && part < file.len() as u64, "{part}");
    // <retrieving_mode> 1 continues from the part's size (REST) and completes the file.
    host.ftp("AT+UFTPC=4,\"big.bin\",\"big.bin\",1", 4, 1, 20)
        .await;
    assert!(modem.filesystem().read("big.bin").unwrap() == file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_close_stall_and_limit() {
    let server = server(Kind::Libunftp).await;
    server.put_file("f.bin", pattern(50_000)).unwrap();
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    // A FIN early: in stream mode an early end of data looks like the end of the file, so the
    // server's reply decides (226 if its writes were already buffered, 426 if it saw the
    // connection go); the file is short either way.
    add(
        &modem,
        FaultSpec {
            on_op: Some(4),
            ..fault(Target::FtpData, Action::Close)
        },
    );
    host.ok("AT+UFTPC=4,\"f.bin\",\"a.bin\"").await;
    let urc = host.urc_line(20).await;
    assert!(urc == "+UUFTPCR: 4,0" || urc == "+UUFTPCR: 4,1", "{urc}");
    assert!(modem.filesystem().read("a.bin").map_or(0, |f| f.len()) < 50_000);
    // Cut after 1000 bytes.
    add(
        &modem,
        FaultSpec {
            after_bytes: Some(1000),
            ..fault(Target::FtpData, Action::Limit)
        },
    );
    // A file far larger than the sockets' buffers: the server is still sending when the
    // connection is cut, so it sees the cut and says 426 (with a small file its 226 may already
    // be on its way, and stream mode cannot tell an early end from the end).
    server.put_file("big.bin", pattern(8_000_000)).unwrap();
    host.ftp("AT+UFTPC=4,\"big.bin\",\"b.bin\"", 4, 0, 20).await;
    assert!(!modem.filesystem().exists("b.bin"));
    assert_eq!(modem.filesystem().resume_offset("b.bin").unwrap(), 1000);
    // A stall shorter than the inactivity timeout only delays; a longer one ends the transfer.
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(300),
            ..fault(Target::FtpData, Action::Stall)
        },
    );
    host.ftp("AT+UFTPC=4,\"f.bin\",\"c.bin\"", 4, 1, 20).await;
    // The inactivity timeout of a new session: 1 s.
    host.ok("AT+UFTP=5,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(5000),
            ..fault(Target::FtpData, Action::Stall)
        },
    );
    host.ftp("AT+UFTPC=4,\"f.bin\",\"d.bin\"", 4, 0, 20).await;
    host.uftper(1, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_reply_reset_close_and_stall() {
    let server = server(Kind::Libunftp).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    // The server's greeting is replaced: the module sees a server that said 421.
    add(
        &modem,
        FaultSpec {
            code: Some(421),
            text: Some("Service not available".into()),
            ..fault(Target::FtpControl, Action::Reply)
        },
    );
    common::set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(0, 421).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    // The control connection reset during a listing, then closed during the next.
    add(
        &modem,
        FaultSpec {
            on_op: Some(13),
            ..fault(Target::FtpControl, Action::Reset)
        },
    );
    host.ftp("AT+UFTPC=13", 13, 0, 20).await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    add(
        &modem,
        FaultSpec {
            on_op: Some(14),
            ..fault(Target::FtpControl, Action::Close)
        },
    );
    host.ftp("AT+UFTPC=14", 14, 0, 20).await;
    // A control stall longer than the inactivity timeout (1 s, for the new session): a silent
    // server.
    host.ok("AT+UFTP=5,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    add(
        &modem,
        FaultSpec {
            on_op: Some(8),
            duration_ms: Some(5000),
            ..fault(Target::FtpControl, Action::Stall)
        },
    );
    host.ftp("AT+UFTPC=8,\"x\"", 8, 0, 20).await;
    host.uftper(1, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_fail_and_delay() {
    let server = server(Kind::Libunftp).await;
    let modem = Modem::new(ModemConfig {
        dns_overrides: vec![("ftp.example.com".into(), server.addr.ip())],
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UFTP=1,\"ftp.example.com\"").await;
    host.ok(&format!("AT+UFTP=7,{}", server.addr.port())).await;
    host.ok(&format!("AT+UFTP=2,\"{}\"", server.user)).await;
    host.ok(&format!("AT+UFTP=3,\"{}\"", server.password)).await;
    host.ok("AT+UFTP=6,1").await;
    add(&modem, fault(Target::Dns, Action::Fail));
    host.ftp("AT+UFTPC=1", 1, 0, 20).await;
    host.uftper(1, 3).await;
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(300),
            ..fault(Target::Dns, Action::Delay)
        },
    );
    let t0 = std::time::Instant::now();
    host.ok("AT+UDNSRN=0,\"ftp.example.com\"").await;
    host.expect_within(
        format!("\r\n+UUDNSRN: 0,\"{}\"\r\n", server.addr.ip()).as_bytes(),
        10,
    )
    .await;
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_takes_the_context_during_a_transfer() {
    let server = server(Kind::Libunftp).await;
    server.put_file("f.bin", pattern(400_000)).unwrap();
    // A slow link, so the transfer is still running when the fault fires.
    let modem = modem_with_link("down=4mbit");
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CGEREP=1").await;
    login(&mut host, &server, true).await;
    add(
        &modem,
        FaultSpec {
            on_op: Some(4),
            after_bytes: Some(50_000),
            cid: Some(1),
            ..fault(Target::Pdp, Action::Deactivate)
        },
    );
    host.ok("AT+UFTPC=4,\"f.bin\",\"f.bin\"").await;
    host.expect_within(b"\r\n+CGEV: NW PDN DEACT 1\r\n", 20)
        .await;
    host.expect_within(b"\r\n+UUFTPCR: 4,0\r\n", 20).await;
    host.uftper(1, 7).await;
    host.cmd("AT+CGACT?", b"\r\n+CGACT: 1,0\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psd_model_hears_uupsdd_when_the_network_takes_the_bearer() {
    let modem = Modem::new(ModemConfig {
        model: Model::by_name("sara-u201").unwrap(),
        ..ModemConfig::default()
    })
    .unwrap();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UPSDA=0,3").await;
    let urc = host.urc_line(5).await;
    assert!(urc.starts_with("+UUPSDA: 0,"), "{urc}");
    add(
        &modem,
        FaultSpec {
            cid: Some(1),
            ..fault(Target::Pdp, Action::Deactivate)
        },
    );
    host.expect_within(b"\r\n+UUPSDD: 0\r\n", 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistration_and_registration_reach_the_terminal() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CREG=1").await;
    host.ok("AT+CEREG=1").await;
    add(&modem, fault(Target::Network, Action::Deregister));
    host.expect_within(b"\r\n+CREG: 0\r\n\r\n+CEREG: 0\r\n", 5)
        .await;
    host.cmd("AT+CREG?", b"\r\n+CREG: 1,0\r\n\r\nOK\r\n").await;
    host.cmd("AT+CGACT?", b"\r\n+CGACT: 1,0\r\n\r\nOK\r\n")
        .await;
    add(
        &modem,
        FaultSpec {
            at_ms: Some(0),
            ..fault(Target::Network, Action::Register)
        },
    );
    host.expect_within(b"\r\n+CREG: 1\r\n\r\n+CEREG: 1\r\n", 5)
        .await;
    host.cmd("AT+CGACT?", b"\r\n+CGACT: 1,1\r\n\r\nOK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_fault_garbles_the_terminal_and_the_terminal_recovers() {
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    let id = add(
        &modem,
        FaultSpec {
            rate: Some(1.0),
            duration_ms: Some(300),
            ..fault(Target::Uart, Action::Flip)
        },
    );
    host.send("AT").await;
    let garbled = host.drain(200).await;
    assert!(!garbled.contains("OK"), "{garbled:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The driver resynchronises: an empty line, then AT answers again.
    host.send("").await;
    host.drain(100).await;
    host.ok("AT").await;
    // Every byte lost for a while: the host hears nothing, then the line is back.
    add(
        &modem,
        FaultSpec {
            rate: Some(1.0),
            duration_ms: Some(300),
            ..fault(Target::Uart, Action::Drop)
        },
    );
    host.send("AT").await;
    host.quiet(200).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    host.send("").await;
    host.drain(100).await;
    host.ok("AT").await;
    assert_eq!(fired(&modem, id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_silences_the_terminals_and_comes_back_at_power_on() {
    let server = server(Kind::Libunftp).await;
    let modem = modem();
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    // A +UDWNFILE payload cut by the reboot leaves no file.
    host.send("AT+UDWNFILE=\"half.txt\",100").await;
    host.expect(b">").await;
    host.io.write_all(b"only part of it").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut power = modem.power();
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(500),
            ..fault(Target::Module, Action::Reboot)
        },
    );
    // While it is off, the terminal hears nothing and says nothing.
    power.wait_for(|p| *p == Power::Off).await.unwrap();
    host.send("AT").await;
    host.quiet(200).await;
    power.wait_for(|p| *p == Power::On).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Power-on state: echo on again, the factory FTP profile, no session.
    host.cmd("AT", b"AT\r\r\nOK\r\n").await;
    host.cmd("AT+UFTP=7?", b"AT+UFTP=7?\r\r\nERROR\r\n").await;
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    host.ftp("AT+UFTPC=13", 13, 0, 10).await;
    host.uftper(1, 1).await;
    assert!(modem.filesystem().list().unwrap().is_empty());
    let profile = {
        host.send("AT+UFTP?").await;
        host.drain(200).await
    };
    assert!(profile.contains("+UFTP: 7,21"), "{profile}");
}

use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_added_while_an_operation_runs_hits_it() {
    let server = server(Kind::Libunftp).await;
    server.put_file("f.bin", pattern(1_000_000)).unwrap();
    let modem = modem_with_link("down=2mbit");
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTPC=4,\"f.bin\",\"f.bin\"").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = add(&modem, fault(Target::FtpData, Action::Reset));
    host.expect_within(b"\r\n+UUFTPCR: 4,0\r\n", 20).await;
    assert_eq!(fired(&modem, id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_during_a_retrieve_leaves_no_half_file_and_the_resume_completes_it() {
    let server = server(Kind::Libunftp).await;
    // 4 MB at 2 MB/s: the spool has written its first 1 MiB chunk after a second.
    server.put_file("f.bin", pattern(4_000_000)).unwrap();
    let modem = modem_with_link("down=16mbit");
    let mut host = AtHost::connect(&modem).await;
    login(&mut host, &server, true).await;
    host.ok("AT+UFTPC=4,\"f.bin\",\"f.bin\"").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while modem.filesystem().resume_offset("f.bin").unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the retrieve never wrote"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    add(
        &modem,
        FaultSpec {
            duration_ms: Some(200),
            ..fault(Target::Module, Action::Reboot)
        },
    );
    // No +UUFTPCR: the module that would send it went down.
    host.quiet(500).await;
    assert!(modem.filesystem().list().unwrap().is_empty());
    host.cmd("AT", b"AT\r\r\nOK\r\n").await;
    // What arrived before the reboot is kept, hidden, and a resume completes it.
    let partial = modem.filesystem().resume_offset("f.bin").unwrap();
    assert!(partial > 0, "the partial is gone");
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    login(&mut host, &server, true).await;
    host.ftp("AT+UFTPC=4,\"f.bin\",\"f.bin\",1", 4, 1, 30).await;
    assert!(modem.filesystem().read("f.bin").unwrap() == pattern(4_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fota_suspended_by_a_pdp_loss_resumes_where_it_stopped() {
    let server = server(Kind::Libunftp).await;
    let image = pattern(400_000);
    server.put_file("fw.bin", &image).unwrap();
    let modem = modem_with_link("down=4mbit");
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+CGEREP=1").await;
    login(&mut host, &server, true).await;
    add(
        &modem,
        FaultSpec {
            on_op: Some(100),
            after_bytes: Some(100_000),
            cid: Some(1),
            ..fault(Target::Pdp, Action::Deactivate)
        },
    );
    host.ok("AT+UFTPC=100,\"fw.bin\"").await;
    // Progress, the network's URC, then the download's failure.
    let mut lines = Vec::new();
    while lines
        .last()
        .is_none_or(|l: &String| !l.starts_with("+UUFTPCR: 100,0"))
    {
        lines.push(host.urc_line(20).await);
    }
    assert!(
        lines.contains(&"+CGEV: NW PDN DEACT 1".to_string()),
        "{lines:?}"
    );
    host.uftper(1, 7).await;
    // The bearer back, a new login, and the download resumes (<param1> 1).
    host.ok("AT+CGACT=1,1").await;
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.ok("AT+UFTPC=100,\"fw.bin\",1").await;
    let md5 = ubx_modem::fs::storage::md5_hex(&image);
    loop {
        let line = host.urc_line(30).await;
        if line.starts_with("+UUFTPCR: 100,1,") {
            assert_eq!(line, format!("+UUFTPCR: 100,1,\"{md5}\""));
            break;
        }
        assert!(line.contains(" / "), "{line}");
    }
}
