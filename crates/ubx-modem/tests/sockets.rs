//! The socket service (`+USO*`) against real OS sockets: TCP, UDP and TLS echo servers from
//! test-servers on loopback, and a real client connecting to a listening module socket. Every
//! expectation is the exact bytes a host sees.

mod common;

use std::time::Duration;

use common::AtHost;
use test_servers::sockets::{TcpEcho, TlsEcho, UdpEcho, connect_and_send};
use tokio::io::AsyncWriteExt;
use ubx_modem::{Modem, ModemConfig};

fn modem() -> Modem {
    Modem::new(ModemConfig::default()).unwrap()
}

async fn host(modem: &Modem) -> AtHost {
    let mut host = AtHost::connect(modem).await;
    host.ok("AT+CMEE=1").await;
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_through_string_writes_and_reads() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    host.cmd("AT+USOWR=0,5,\"hello\"", b"\r\n+USOWR: 0,5\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,5\r\n", 5).await;
    host.cmd("AT+USORD=0,0", b"\r\n+USORD: 0,5\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USORD=0,3", b"\r\n+USORD: 0,3,\"hel\"\r\n\r\nOK\r\n")
        .await;
    // What is left is announced again.
    host.expect(b"\r\n+UUSORD: 0,2\r\n").await;
    host.cmd("AT+USORD=0,1024", b"\r\n+USORD: 0,2,\"lo\"\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOCTL=0,0", b"\r\n+USOCTL: 0,0,6\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOCTL=0,2", b"\r\n+USOCTL: 0,2,5\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOCTL=0,3", b"\r\n+USOCTL: 0,3,5\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOCTL=0,10", b"\r\n+USOCTL: 0,10,4\r\n\r\nOK\r\n")
        .await;
    let remote = format!(
        "\r\n+USOCTL: 0,4,\"127.0.0.1\",{}\r\n\r\nOK\r\n",
        echo.addr().port()
    );
    host.cmd("AT+USOCTL=0,4", remote.as_bytes()).await;
    host.ok("AT+USOCL=0").await;
    host.cmd("AT+USOCL=0", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+USOER", b"\r\n+USOER: 9\r\n\r\nOK\r\n").await;
    host.quiet(200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_write_after_the_at_prompt_and_hex_mode() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    host.send("AT+USOWR=0,6").await;
    host.expect(b"@").await;
    // Every byte is data, CR LF and quotes included.
    host.io.write_all(b"\r\n\"\x00\xff+").await.unwrap();
    host.expect(b"\r\n+USOWR: 0,6\r\n\r\nOK\r\n").await;
    host.expect_within(b"\r\n+UUSORD: 0,6\r\n", 5).await;
    host.cmd(
        "AT+USORD=0,6",
        b"\r\n+USORD: 0,6,\"\r\n\"\x00\xff+\"\r\n\r\nOK\r\n",
    )
    .await;
    host.ok("AT+UDCONF=1,1").await;
    host.cmd("AT+USOWR=0,2,\"0aFf\"", b"\r\n+USOWR: 0,2\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,2\r\n", 5).await;
    host.cmd("AT+USORD=0,2", b"\r\n+USORD: 0,2,\"0AFF\"\r\n\r\nOK\r\n")
        .await;
    // Odd length, a non-hex digit, a length that does not match, a length over the limit.
    for bad in [
        "AT+USOWR=0,2,\"0aF\"",
        "AT+USOWR=0,1,\"0g\"",
        "AT+USOWR=0,3,\"0aFf\"",
        "AT+USOWR=0,513,\"00\"",
    ] {
        host.cmd(bad, b"\r\n+CME ERROR: 3\r\n").await;
        host.cmd("AT+USOER", b"\r\n+USOER: 22\r\n\r\nOK\r\n").await;
    }
    host.ok("AT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_send_to_and_read_from() {
    let echo = UdpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=17", b"\r\n+USOCR: 0\r\n\r\nOK\r\n")
        .await;
    let port = echo.addr().port();
    host.cmd(
        &format!("AT+USOST=0,\"127.0.0.1\",{port},4,\"ping\""),
        b"\r\n+USOST: 0,4\r\n\r\nOK\r\n",
    )
    .await;
    host.expect_within(b"\r\n+UUSORF: 0,4\r\n", 5).await;
    let answer = format!("\r\n+USORF: 0,\"127.0.0.1\",{port},4,\"ping\"\r\n\r\nOK\r\n");
    host.cmd("AT+USORF=0,1024", answer.as_bytes()).await;
    // Binary send-to after the prompt.
    host.send(&format!("AT+USOST=0,\"127.0.0.1\",{port},3"))
        .await;
    host.expect(b"@").await;
    host.io.write_all(b"a\"b").await.unwrap();
    host.expect(b"\r\n+USOST: 0,3\r\n\r\nOK\r\n").await;
    host.expect_within(b"\r\n+UUSORF: 0,3\r\n", 5).await;
    host.cmd("AT+USORF=0,0", b"\r\n+USORF: 0,3\r\n\r\nOK\r\n")
        .await;
    // A UDP socket given a peer by +USOCO writes with +USOWR and hears +UUSORD.
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{port}")).await;
    let stale = format!("\r\n+USORF: 0,\"127.0.0.1\",{port},3,\"a\"b\"\r\n\r\nOK\r\n");
    host.cmd("AT+USORF=0,1024", stale.as_bytes()).await;
    host.cmd("AT+USOWR=0,2,\"hi\"", b"\r\n+USOWR: 0,2\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,2\r\n", 5).await;
    host.cmd("AT+USORD=0,2", b"\r\n+USORD: 0,2,\"hi\"\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+USOCL=0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_errors_and_usoer_says_why() {
    let modem = modem();
    let mut host = host(&modem).await;
    // A socket type other than 6 or 17, a socket out of range or not open.
    host.cmd("AT+USOCR=5", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+USOER", b"\r\n+USOER: 22\r\n\r\nOK\r\n").await;
    host.cmd("AT+USOWR=7,1,\"a\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 9\r\n\r\nOK\r\n").await;
    host.cmd("AT+USORD=3,10", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+USOER", b"\r\n+USOER: 9\r\n\r\nOK\r\n").await;
    // One socket more than the model has.
    for id in 0..7 {
        host.cmd(
            "AT+USOCR=6",
            format!("\r\n+USOCR: {id}\r\n\r\nOK\r\n").as_bytes(),
        )
        .await;
    }
    host.cmd("AT+USOCR=6", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+USOER", b"\r\n+USOER: 24\r\n\r\nOK\r\n").await;
    // Writing on a socket that is not connected.
    host.cmd("AT+USOWR=0,1,\"a\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 107\r\n\r\nOK\r\n").await;
    // Port 0, a refused port, an unresolvable name.
    host.cmd("AT+USOCO=0,\"127.0.0.1\",0", b"\r\n+CME ERROR: 3\r\n")
        .await;
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refused.local_addr().unwrap().port();
    drop(refused);
    host.cmd(
        &format!("AT+USOCO=0,\"127.0.0.1\",{port}"),
        b"\r\n+CME ERROR: 3\r\n",
    )
    .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 111\r\n\r\nOK\r\n").await;
    host.cmd("AT+USOCTL=0,1", b"\r\n+USOCTL: 0,1,111\r\n\r\nOK\r\n")
        .await;
    host.send("AT+USOCO=1,\"no-such-host.invalid\",80").await;
    host.expect_within(b"\r\n+CME ERROR: 3\r\n", 10).await;
    host.cmd("AT+USOER", b"\r\n+USOER: 113\r\n\r\nOK\r\n").await;
    // DTLS is refused on a UDP socket.
    host.ok("AT+USOCL=6").await;
    host.cmd("AT+USOCR=17", b"\r\n+USOCR: 6\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOSEC=6,1,0", b"\r\n+CME ERROR: 3\r\n").await;
    host.cmd("AT+USOER", b"\r\n+USOER: 93\r\n\r\nOK\r\n").await;
    // Options: recorded and read back; an unknown one is refused.
    host.ok("AT+USOSO=0,6,1,1").await;
    host.cmd("AT+USOGO=0,6,1", b"\r\n+USOGO: 1\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+USOSO=0,65535,128,1,30").await;
    host.cmd("AT+USOGO=0,65535,128", b"\r\n+USOGO: 1,30\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOSO=0,6,99,1", b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.ok("AT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_closing_is_told_after_the_data_is_read() {
    let echo = TcpEcho::close_after_first().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    host.cmd("AT+USOWR=0,3,\"bye\"", b"\r\n+USOWR: 0,3\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,3\r\n", 5).await;
    // The close waits until the host has read everything.
    host.quiet(300).await;
    host.cmd("AT+USORD=0,3", b"\r\n+USORD: 0,3,\"bye\"\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSOCL: 0\r\n", 5).await;
    host.cmd("AT+USOCL=0", b"\r\n+CME ERROR: 3\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdp_loss_closes_every_socket() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    for id in 0..2 {
        host.cmd(
            "AT+USOCR=6",
            format!("\r\n+USOCR: {id}\r\n\r\nOK\r\n").as_bytes(),
        )
        .await;
        host.ok(&format!(
            "AT+USOCO={id},\"127.0.0.1\",{}",
            echo.addr().port()
        ))
        .await;
    }
    host.cmd("AT+USOCR=17", b"\r\n+USOCR: 2\r\n\r\nOK\r\n")
        .await;
    host.ok("AT+CGACT=0,1").await;
    let got = host.drain(500).await;
    assert_eq!(
        got,
        "\r\n+UUSOCL: 0\r\n\r\n+UUSOCL: 1\r\n\r\n+UUSOCL: 2\r\n"
    );
    host.ok("AT").await;
    host.cmd("AT+USOWR=0,1,\"a\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    // Without a bearer, no socket connects.
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.cmd(
        &format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()),
        b"\r\n+CME ERROR: 3\r\n",
    )
    .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 113\r\n\r\nOK\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_socket_accepts_a_real_client() {
    let modem = modem();
    let mut host = host(&modem).await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOLI=0,{port}")).await;
    host.cmd("AT+USOCTL=0,10", b"\r\n+USOCTL: 0,10,1\r\n\r\nOK\r\n")
        .await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let client =
        tokio::spawn(
            async move { connect_and_send(addr, b"knock", 3, Duration::from_secs(10)).await },
        );
    let line = host.urc_line(5).await;
    assert!(
        line.starts_with("+UUSOLI: 1,\"127.0.0.1\",")
            && line.ends_with(&format!(",0,\"127.0.0.1\",{port}")),
        "{line}"
    );
    host.expect_within(b"\r\n+UUSORD: 1,5\r\n", 5).await;
    host.cmd("AT+USORD=1,5", b"\r\n+USORD: 1,5,\"knock\"\r\n\r\nOK\r\n")
        .await;
    host.cmd("AT+USOWR=1,3,\"who\"", b"\r\n+USOWR: 1,3\r\n\r\nOK\r\n")
        .await;
    assert_eq!(client.await.unwrap().unwrap(), b"who");
    // The client has gone: the socket is closed once its data was read (none is left).
    host.expect_within(b"\r\n+UUSOCL: 1\r\n", 5).await;
    // The port is taken now: a second listener on it fails.
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 1\r\n\r\nOK\r\n").await;
    host.cmd(&format!("AT+USOLI=1,{port}"), b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 98\r\n\r\nOK\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_socket_validates_the_server_with_the_security_profile() {
    let echo = TlsEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    let ca = echo.ca_pem().to_string();
    host.send(&format!("AT+USECMNG=0,0,\"ca\",{}", ca.len()))
        .await;
    host.expect(b">").await;
    host.io.write_all(ca.as_bytes()).await.unwrap();
    let md5_line = host.urc_line(5).await;
    assert!(md5_line.starts_with("+USECMNG: 0,0,\"ca\","), "{md5_line}");
    host.expect(b"\r\nOK\r\n").await;
    host.ok("AT+USECPRF=0,0,1").await;
    host.ok("AT+USECPRF=0,3,\"ca\"").await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok("AT+USOSEC=0,1,0").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    host.cmd("AT+USOWR=0,6,\"secret\"", b"\r\n+USOWR: 0,6\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,6\r\n", 5).await;
    host.cmd("AT+USORD=0,6", b"\r\n+USORD: 0,6,\"secret\"\r\n\r\nOK\r\n")
        .await;
    assert_eq!(echo.handshakes(), 1);
    // A profile without the root refuses the server.
    host.ok("AT+USECPRF=1,0,1").await;
    host.ok("AT+USECPRF=1,3,\"nothing\"").await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 1\r\n\r\nOK\r\n").await;
    host.ok("AT+USOSEC=1,1,1").await;
    host.cmd(
        &format!("AT+USOCO=1,\"127.0.0.1\",{}", echo.addr().port()),
        b"\r\n+CME ERROR: 3\r\n",
    )
    .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 13\r\n\r\nOK\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_carries_both_ways_and_counts_against_ftp() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    let mut other = AtHost::connect(&modem).await;
    host.cmd("AT+USODL=0", b"\r\nCONNECT\r\n").await;
    // Every byte is data: the echo comes straight back.
    host.io.write_all(b"AT\r\nOK\r\n+++x").await.unwrap();
    host.expect_within(b"AT\r\nOK\r\n+++x", 5).await;
    // The one direct link: FTP's direct link and +FREAD are refused meanwhile.
    other.cmd("AT+UFTPC=6,\"f\"", b"\r\nERROR\r\n").await;
    other.cmd("AT+ULSTFILE=0", b"\r\nERROR\r\n").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    host.io.write_all(b"+++").await.unwrap();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n", 5).await;
    // The socket is still open and usable in command mode.
    host.cmd("AT+USOWR=0,2,\"ok\"", b"\r\n+USOWR: 0,2\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,2\r\n", 5).await;
}

fn socket_fault(modem: &Modem, action: ubx_modem::field::spec::Action, after: Option<u64>) {
    use ubx_modem::field::spec::{FaultSpec, Target};
    let spec = FaultSpec {
        target: Some(Target::Socket),
        action: Some(action),
        after_bytes: after,
        duration_ms: (action == ubx_modem::field::spec::Action::Stall).then_some(800),
        ..FaultSpec::default()
    };
    modem
        .field()
        .faults
        .add(spec.validate(modem.max_cid()).expect("valid fault"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_faults_reset_and_stall_a_connection() {
    use ubx_modem::field::spec::Action;
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    // A stall: the echo arrives, late.
    socket_fault(&modem, Action::Stall, None);
    let sent = tokio::time::Instant::now();
    host.cmd("AT+USOWR=0,4,\"slow\"", b"\r\n+USOWR: 0,4\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSORD: 0,4\r\n", 5).await;
    assert!(
        sent.elapsed() >= Duration::from_millis(700),
        "{:?}",
        sent.elapsed()
    );
    host.cmd("AT+USORD=0,4", b"\r\n+USORD: 0,4,\"slow\"\r\n\r\nOK\r\n")
        .await;
    // A reset once the socket has moved 8 bytes (it has): the next write resets the
    // connection; the socket closes with +UUSOCL and is gone.
    socket_fault(&modem, Action::Reset, Some(8));
    host.cmd("AT+USOWR=0,4,\"more\"", b"\r\n+USOWR: 0,4\r\n\r\nOK\r\n")
        .await;
    host.expect_within(b"\r\n+UUSOCL: 0\r\n", 5).await;
    host.cmd("AT+USOWR=0,1,\"x\"", b"\r\n+CME ERROR: 3\r\n")
        .await;
    host.cmd("AT+USOER", b"\r\n+USOER: 9\r\n\r\nOK\r\n").await;
    host.ok("AT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_reads_stops_the_reader_and_memory_stays_bounded() {
    let echo = TcpEcho::start().await.unwrap();
    let modem = modem();
    let mut host = host(&modem).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{}", echo.addr().port()))
        .await;
    let chunk = "x".repeat(1000);
    let mut accepted = 0usize;
    let mut refused = 0;
    // Write far more than the buffers hold without reading anything back.
    for _ in 0..400 {
        host.send(&format!("AT+USOWR=0,1000,\"{chunk}\"")).await;
        loop {
            let line = host.urc_line(5).await;
            if line == "OK" {
                break;
            }
            if line.starts_with("+CME ERROR") {
                refused += 1;
                break;
            }
            if let Some(n) = line.strip_prefix("+USOWR: 0,") {
                accepted += n.parse::<usize>().unwrap();
            }
        }
        if refused > 3 {
            break;
        }
    }
    // The module stopped taking bytes: its receive buffer (64 KiB) and send buffer (16 KiB),
    // and the kernels' socket buffers, hold what it took; nothing grows beyond that.
    assert!(refused > 0, "every write was taken: {accepted} bytes");
    assert!(accepted < 16 << 20, "{accepted}");
    host.cmd("AT+USOER", b"\r\n+USOER: 11\r\n\r\nOK\r\n").await;
}

/// A socket's direct link toward a UART at 9600 baud rides the same data link as FTP's: the
/// module holds less than `HOST_WINDOW` (4 KiB) for the line, so `+++` ends it with little
/// more than the guard time's bytes; the rest stays in the socket for `+USORD`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_link_toward_a_9600_baud_uart_ends_after_a_few_kib() {
    use tokio::io::AsyncReadExt;
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = peer.local_addr().unwrap().port();
    let data = common::pattern(20_000);
    let sent = data.clone();
    // The peer sends its 20 000 bytes once the host says so through the link, and stays.
    tokio::spawn(async move {
        let (mut conn, _) = peer.accept().await.unwrap();
        let mut go = [0u8; 2];
        conn.read_exact(&mut go).await.unwrap();
        conn.write_all(&sent).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let modem = modem();
    let mut host = common::paced_host(&modem, 9600).await;
    host.cmd("AT+USOCR=6", b"\r\n+USOCR: 0\r\n\r\nOK\r\n").await;
    host.ok(&format!("AT+USOCO=0,\"127.0.0.1\",{port}")).await;
    host.cmd("AT+USODL=0", b"\r\nCONNECT\r\n").await;
    host.io.write_all(b"go").await.unwrap();
    // About 1.5 s of data before the escape: more than the guard time since "go".
    let tail = b"\r\nDISCONNECT\r\n\r\nOK\r\n";
    let (got, after) = host.escape_mid_stream(tail, 30).await;
    let bound = common::AFTER_ESCAPE_AT_9600;
    assert!(
        after <= bound,
        "{after} bytes after the escape (at most {bound})"
    );
    assert!(
        got == data[..got.len()],
        "a clean prefix of the peer's bytes"
    );
    // The rest waits in the socket.
    host.send("AT+USORD=0,0").await;
    let answer = String::from_utf8_lossy(&host.take_until(b"\r\nOK\r\n", 5).await).into_owned();
    let waiting: usize = answer
        .split("+USORD: 0,")
        .nth(1)
        .and_then(|s| s.split("\r\n").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no +USORD in {answer:?}"));
    // None lost: what did not reach the host before it left waits in the socket.
    assert_eq!(
        waiting + got.len(),
        data.len(),
        "{waiting} bytes wait, {} reached the host",
        got.len()
    );
}
