//! Every connection the module opens pays its TCP handshake, end to end through the services
//! and real servers on loopback: the round trips of docs/FIELD.md's model are a floor no run can
//! go under. Real time, so only lower bounds are asserted; the exact times are the paused-clock
//! tests' (`field_model.rs`) and the field benchmark's.

mod common;

use std::time::Duration;

use common::{AtHost, modem_with_link, set_profile};
use test_servers::sockets::TcpEcho;
use test_servers::{Kind, ServerOptions, start};
use tokio::time::Instant;

const RTT: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_and_a_cwd_take_at_least_six_round_trips() {
    let server = start(Kind::Libunftp, ServerOptions::default())
        .await
        .expect("libunftp");
    server.put_file("a.txt", b"x").unwrap();
    let modem = modem_with_link("rtt=100ms");
    let mut host = AtHost::connect(&modem).await;
    set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    let t0 = Instant::now();
    // The handshake, the greeting, USER, PASS, TYPE I; then CWD.
    host.ftp("AT+UFTPC=1", 1, 1, 20).await;
    host.ftp("AT+UFTPC=8,\"/\"", 8, 1, 20).await;
    let took = t0.elapsed();
    assert!(took >= RTT * 6, "{took:?}");
    // A listing opens a data connection: PASV, its handshake, LIST and the data.
    let t0 = Instant::now();
    host.ok("AT+UFTPC=13").await;
    host.data_urc(13, 20).await;
    host.expect_within(b"\r\n+UUFTPCR: 13,1\r\n", 20).await;
    let took = t0.elapsed();
    assert!(took >= RTT * 3, "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_connect_answers_after_one_round_trip() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem_with_link("rtt=100ms");
    let mut host = AtHost::connect(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    let t0 = Instant::now();
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    let took = t0.elapsed();
    assert!(took >= RTT, "{took:?}");
    // The first bytes then take one round trip there and back.
    let t0 = Instant::now();
    host.cmd("AT+USOWR=0,2,\"hi\"", b"\r\n+USOWR: 0,2\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,2\r\n", 5).await;
    assert!(t0.elapsed() >= RTT, "{:?}", t0.elapsed());
}
