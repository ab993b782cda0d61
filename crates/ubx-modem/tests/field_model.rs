//! The field's machinery under tokio's paused clock: link shaping, socket faults and UART pacing
//! on in-memory streams, so a 60 s stall or a 4 s transfer takes milliseconds and the times
//! measured are the model's own (virtual time, exact, not a timed test).

use std::sync::Arc;
use std::time::Duration;

use ftp_client::SocketRole;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use ubx_modem::field::socket::FieldSocket;
use ubx_modem::field::spec::{Action, FaultSpec, LinkSpec, Target};
use ubx_modem::field::uart::Uart;
use ubx_modem::field::{Field, FieldConfig};

fn field(link: &str) -> Arc<Field> {
    let config = FieldConfig {
        link: LinkSpec::parse(link).unwrap(),
        ..FieldConfig::default()
    };
    Field::new(&config).0
}

fn unshaped() -> Arc<Field> {
    Field::new(&FieldConfig::default()).0
}

/// A module-side socket and the server's end of it.
fn socket(field: &Arc<Field>, role: SocketRole) -> (FieldSocket<DuplexStream>, DuplexStream) {
    let (module, server) = tokio::io::duplex(256 * 1024);
    (FieldSocket::new(module, role, field.clone()), server)
}

fn within(got: Duration, want: Duration, tolerance: f64) -> bool {
    let (g, w) = (got.as_secs_f64(), want.as_secs_f64());
    (g - w).abs() <= w * tolerance
}

async fn read_all(s: &mut FieldSocket<DuplexStream>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(out)
}

#[tokio::test(start_paused = true)]
async fn one_mib_down_at_2_mbit_takes_4_19_s() {
    let f = field("down=2mbit");
    let (mut module, mut server) = socket(&f, SocketRole::Data);
    let data: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    let sent = data.clone();
    tokio::spawn(async move {
        server.write_all(&sent).await.unwrap();
        server.shutdown().await.unwrap();
    });
    let t0 = Instant::now();
    assert_eq!(read_all(&mut module).await.unwrap(), data);
    let took = t0.elapsed();
    // 1048576 bytes × 8 / 2 000 000 bit/s.
    assert!(
        within(took, Duration::from_secs_f64(4.194), 0.05),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn half_a_mib_up_at_1_mbit_takes_4_19_s() {
    let f = field("up=1mbit");
    let (mut module, mut server) = socket(&f, SocketRole::Data);
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        (got.len(), Instant::now())
    });
    let t0 = Instant::now();
    module.write_all(&vec![7u8; 512 * 1024]).await.unwrap();
    module.shutdown().await.unwrap();
    let (len, done) = reader.await.unwrap();
    assert_eq!(len, 512 * 1024);
    let took = done - t0;
    assert!(
        within(took, Duration::from_secs_f64(4.194), 0.05),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_and_its_reply_take_one_round_trip() {
    let f = field("rtt=300ms");
    let (mut module, mut server) = socket(&f, SocketRole::Control);
    tokio::spawn(async move {
        let mut line = [0u8; 9];
        server.read_exact(&mut line).await.unwrap();
        server.write_all(b"250 OK\r\n").await.unwrap();
    });
    // Once the connection is up (its handshake: the next test).
    module.flush().await.unwrap();
    let t0 = Instant::now();
    module.write_all(b"CWD dir\r\n").await.unwrap();
    module.flush().await.unwrap();
    let mut reply = [0u8; 8];
    module.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"250 OK\r\n");
    let took = t0.elapsed();
    assert!(within(took, Duration::from_millis(300), 0.02), "{took:?}");
}

/// Reads one line (up to LF) from the server's end.
async fn line_from(server: &mut DuplexStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        server.read_exact(&mut byte).await.unwrap();
        line.push(byte[0]);
    }
    line
}

#[tokio::test(start_paused = true)]
async fn a_connection_pays_its_handshake_before_its_first_byte() {
    let f = field("rtt=300ms");
    // The module opened it: it may send after one round trip (SYN, SYN-ACK), and its first
    // byte reaches the server half a round trip later.
    let t0 = Instant::now();
    let (mut module, mut server) = socket(&f, SocketRole::Data);
    let got = tokio::spawn(async move {
        let mut b = [0u8; 1];
        server.read_exact(&mut b).await.unwrap();
        Instant::now()
    });
    module.flush().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(300));
    module.write_all(b"x").await.unwrap();
    module.flush().await.unwrap();
    assert_eq!(got.await.unwrap() - t0, Duration::from_millis(450));
    // A server that speaks first can only once the module's ACK reached it (1.5 round trips):
    // its greeting arrives two round trips after the connect.
    let t0 = Instant::now();
    let (mut module, mut server) = socket(&f, SocketRole::Control);
    server.write_all(b"220 hi\r\n").await.unwrap();
    let mut greeting = [0u8; 8];
    module.read_exact(&mut greeting).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(600));
    // A connection the peer opened (active mode, +USOLI): the peer sends first, after its one
    // round trip, and is heard half a round trip later.
    let t0 = Instant::now();
    let (inner, mut peer) = tokio::io::duplex(1024);
    let mut accepted = FieldSocket::accepted(inner, SocketRole::Data, f.clone());
    peer.write_all(b"data").await.unwrap();
    let mut data = [0u8; 4];
    accepted.read_exact(&mut data).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(450));
    // Unshaped, a connection is up at once.
    let (mut module, _server) = socket(&unshaped(), SocketRole::Data);
    let t0 = Instant::now();
    module.flush().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

/// The FTP login and a CWD against a scripted server under `rtt=300ms`: the connect's round
/// trip, the greeting's (the server speaks once the module's ACK reached it), then one round
/// trip per command — USER, PASS, CWD: five round trips, 1.5 s (docs/FIELD.md, the model).
#[tokio::test(start_paused = true)]
async fn a_login_and_a_cwd_take_five_round_trips() {
    let f = field("rtt=300ms");
    let t0 = Instant::now();
    let (mut module, mut server) = socket(&f, SocketRole::Control);
    tokio::spawn(async move {
        server.write_all(b"220 ready\r\n").await.unwrap();
        for reply in [&b"331 password\r\n"[..], b"230 in\r\n", b"250 ok\r\n"] {
            line_from(&mut server).await;
            server.write_all(reply).await.unwrap();
        }
    });
    let mut reply = [0u8; 64];
    for (command, len) in [
        (None, 11),
        (Some(&b"USER u\r\n"[..]), 14),
        (Some(b"PASS p\r\n"), 8),
        (Some(b"CWD /\r\n"), 8),
    ] {
        if let Some(command) = command {
            module.write_all(command).await.unwrap();
            module.flush().await.unwrap();
        }
        module.read_exact(&mut reply[..len]).await.unwrap();
    }
    assert_eq!(t0.elapsed(), Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn connections_share_the_link() {
    let f = field("down=2mbit");
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (mut module, mut server) = socket(&f, SocketRole::Data);
        tokio::spawn(async move {
            server.write_all(&[1u8; 256 * 1024]).await.unwrap();
            server.shutdown().await.unwrap();
        });
        tasks.push(tokio::spawn(async move {
            read_all(&mut module).await.unwrap().len()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 256 * 1024);
    }
    // Two 256 KiB transfers at once take as long as one of 512 KiB.
    let took = t0.elapsed();
    assert!(
        within(took, Duration::from_secs_f64(2.097), 0.05),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn unshaped_bytes_pass_as_they_are() {
    let f = unshaped();
    let (mut module, mut server) = socket(&f, SocketRole::Data);
    let t0 = Instant::now();
    server.write_all(b"hello").await.unwrap();
    drop(server);
    assert_eq!(read_all(&mut module).await.unwrap(), b"hello");
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

fn fault(target: Target, action: Action) -> FaultSpec {
    FaultSpec {
        target: Some(target),
        action: Some(action),
        ..FaultSpec::default()
    }
}

/// The server sends `len` bytes and closes.
fn serve_bytes(mut server: DuplexStream, len: usize) {
    tokio::spawn(async move {
        let _ = server.write_all(&vec![3u8; len]).await;
        let _ = server.shutdown().await;
    });
}

#[tokio::test(start_paused = true)]
async fn a_data_reset_after_n_bytes() {
    let f = unshaped();
    f.faults.add(
        FaultSpec {
            after_bytes: Some(10_000),
            ..fault(Target::FtpData, Action::Reset)
        }
        .validate(8)
        .unwrap(),
    );
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 100_000);
    let mut got = 0;
    let mut buf = [0u8; 4096];
    let err = loop {
        match module.read(&mut buf).await {
            Ok(0) => panic!("ended without the reset"),
            Ok(n) => got += n,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert!((10_000..14_096).contains(&got), "{got}");
    assert_eq!(f.faults.list()[0].fired, 1);
    // Control connections are not data connections.
    let (mut control, server) = socket(&f, SocketRole::Control);
    serve_bytes(server, 20_000);
    assert_eq!(read_all(&mut control).await.unwrap().len(), 20_000);
}

#[tokio::test(start_paused = true)]
async fn a_limit_lets_exactly_n_bytes_through_then_closes() {
    let f = unshaped();
    f.faults.add(
        FaultSpec {
            after_bytes: Some(5000),
            ..fault(Target::FtpData, Action::Limit)
        }
        .validate(8)
        .unwrap(),
    );
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 100_000);
    assert_eq!(read_all(&mut module).await.unwrap().len(), 5000);
}

#[tokio::test(start_paused = true)]
async fn a_close_ends_the_data_early() {
    let f = unshaped();
    f.faults
        .add(fault(Target::FtpData, Action::Close).validate(8).unwrap());
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 1000);
    assert_eq!(read_all(&mut module).await.unwrap().len(), 0);
    assert!(module.write_all(b"x").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_60_s_stall_takes_60_virtual_seconds() {
    let f = unshaped();
    f.faults.add(
        FaultSpec {
            duration_ms: Some(60_000),
            ..fault(Target::FtpData, Action::Stall)
        }
        .validate(8)
        .unwrap(),
    );
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 1000);
    let t0 = Instant::now();
    assert_eq!(read_all(&mut module).await.unwrap().len(), 1000);
    assert_eq!(t0.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_reply_fault_replaces_the_next_reply() {
    let f = unshaped();
    f.faults.add(
        FaultSpec {
            code: Some(421),
            text: Some("Service not available".into()),
            ..fault(Target::FtpControl, Action::Reply)
        }
        .validate(8)
        .unwrap(),
    );
    let (mut module, mut server) = socket(&f, SocketRole::Control);
    server
        .write_all(b"220 Welcome\r\n230 Logged in\r\n")
        .await
        .unwrap();
    drop(server);
    assert_eq!(
        read_all(&mut module).await.unwrap(),
        b"421 Service not available\r\n230 Logged in\r\n"
    );
}

#[tokio::test(start_paused = true)]
async fn overlapping_faults_fire_one_after_the_other() {
    let f = unshaped();
    for ms in [1000, 2000] {
        f.faults.add(
            FaultSpec {
                duration_ms: Some(ms),
                ..fault(Target::FtpData, Action::Stall)
            }
            .validate(8)
            .unwrap(),
        );
    }
    // Both apply, one at each event: the first socket stalls 1 s, then 2 s.
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 10);
    let t0 = Instant::now();
    read_all(&mut module).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(3000));
    assert!(f.faults.list().iter().all(|e| e.fired == 1));
    // Spent: the next socket is not stalled.
    let (mut module, server) = socket(&f, SocketRole::Data);
    serve_bytes(server, 10);
    let t0 = Instant::now();
    read_all(&mut module).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn uart_pacing_moves_32_kib_at_115200_in_2_84_s() {
    let f = unshaped();
    let (host, module_end) = tokio::io::duplex(64 * 1024);
    let mut line = Uart::new(module_end, Some(115_200), None, f);
    let mut host = host;
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; 32 * 1024];
        host.read_exact(&mut got).await.unwrap();
        Instant::now()
    });
    let t0 = Instant::now();
    line.write_all(&vec![0x55u8; 32 * 1024]).await.unwrap();
    let done = reader.await.unwrap();
    // 32768 bytes × 10 bits / 115200 bit/s.
    let took = done - t0;
    assert!(
        within(took, Duration::from_secs_f64(2.8444), 0.01),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn at_ipr_changes_the_pace_of_a_paced_line_only() {
    let f = unshaped();
    let (tx, rx) = tokio::sync::watch::channel(115_200u32);
    let (mut host, module_end) = tokio::io::duplex(64 * 1024);
    let mut line = Uart::new(module_end, Some(115_200), Some(rx), f.clone());
    tx.send(9600).unwrap();
    let t0 = Instant::now();
    line.write_all(&[0u8; 960]).await.unwrap();
    let mut got = [0u8; 960];
    host.read_exact(&mut got).await.unwrap();
    // 960 bytes at 960 bytes/s.
    assert!(
        within(t0.elapsed(), Duration::from_secs(1), 0.02),
        "{:?}",
        t0.elapsed()
    );
    // An unpaced line stays unpaced.
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let (mut host, module_end) = tokio::io::duplex(64 * 1024);
    let mut line = Uart::new(module_end, None, Some(rx), f);
    tx.send(9600).unwrap();
    let t0 = Instant::now();
    line.write_all(&[0u8; 960]).await.unwrap();
    host.read_exact(&mut got).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn uart_faults_flip_and_drop_bytes() {
    let f = unshaped();
    let id = f.faults.add(
        FaultSpec {
            rate: Some(1.0),
            ..fault(Target::Uart, Action::Flip)
        }
        .validate(8)
        .unwrap(),
    );
    let (mut host, module_end) = tokio::io::duplex(1024);
    let mut line = Uart::new(module_end, None, None, f.clone());
    line.write_all(b"OK\r\n").await.unwrap();
    let mut got = [0u8; 4];
    host.read_exact(&mut got).await.unwrap();
    assert!(
        got.iter()
            .zip(b"OK\r\n")
            .all(|(a, b)| (a ^ b).count_ones() == 1),
        "{got:?}"
    );
    assert_eq!(f.faults.list()[0].id, id);
    f.faults.clear();
    f.faults.add(
        FaultSpec {
            rate: Some(0.5),
            ..fault(Target::Uart, Action::Drop)
        }
        .validate(8)
        .unwrap(),
    );
    line.write_all(&[b'x'; 1000]).await.unwrap();
    drop(line);
    let mut rest = Vec::new();
    host.read_to_end(&mut rest).await.unwrap();
    assert!(
        (350..650).contains(&rest.len()),
        "{} of 1000 kept",
        rest.len()
    );
}
