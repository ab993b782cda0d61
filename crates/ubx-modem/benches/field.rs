//! Accuracy of the field conditions, measured in real time against a real server, beside the
//! formula each should follow, and the cost of the shaping layer when it is off.
//!
//! - rate: a 1 MiB retrieve (`AT+UFTPC=4`) at `down=2mbit` and a 512 KiB store (`AT+UFTPC=5`)
//!   at `up=1mbit`, from the command to its `+UUFTPCR`, against `bytes × 8 / rate`;
//! - round trip: `AT+UFTPC=8` (one CWD exchange) under `rtt=300ms`, against 300 ms;
//! - UART pacing: `AT+URDFILE` of 32 KiB on a terminal paced at 115200 baud, from the command
//!   to the last byte of the answer, against `bytes × 10 / 115200`;
//! - overhead: RETR of a file with the FTP engine alone, with and without the module's socket
//!   layer (unshaped), alternating, medians; the goal is a ratio ≥ 0.95.
//!
//! `cargo bench -p ubx-modem --bench field` runs the figures above against vsftpd, 5 rounds of
//! 64 MiB for the overhead. Without `--bench` (as `cargo test --all-targets` runs it) it is a
//! smoke test with small sizes against libunftp whose figures mean nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{AtHost, login, modem_with_link};
use ftp_client::{ConnectOptions, DataMode, FtpSession};
use test_servers::{Kind, RunningServer, ServerOptions, start};
use tokio::io::AsyncWriteExt;
use ubx_modem::field::socket::FieldLayer;
use ubx_modem::field::spec::LinkSpec;
use ubx_modem::field::{Field, FieldConfig};
use ubx_modem::{Modem, ModemConfig};

struct Scale {
    kind: Kind,
    down: (&'static str, usize, f64),
    up: (&'static str, usize, f64),
    rtt: &'static str,
    baud: u32,
    urdfile: usize,
    overhead_bytes: usize,
    rounds: usize,
}

const BENCH: Scale = Scale {
    kind: Kind::Vsftpd,
    down: ("down=2mbit", 1 << 20, 2e6),
    up: ("up=1mbit", 512 << 10, 1e6),
    rtt: "rtt=300ms",
    baud: 115_200,
    urdfile: 32 << 10,
    overhead_bytes: 64 << 20,
    rounds: 5,
};

const SMOKE: Scale = Scale {
    kind: Kind::Libunftp,
    down: ("down=64mbit", 64 << 10, 64e6),
    up: ("up=64mbit", 64 << 10, 64e6),
    rtt: "rtt=20ms",
    baud: 3_000_000,
    urdfile: 4 << 10,
    overhead_bytes: 1 << 20,
    rounds: 1,
};

fn row(what: &str, measured: Duration, formula: Duration) {
    let (m, f) = (measured.as_secs_f64(), formula.as_secs_f64());
    println!(
        "{what:<44} {m:>8.3} s   formula {f:>8.3} s   error {:>+6.1} %",
        (m - f) / f * 100.0
    );
}

async fn timed_op(host: &mut AtHost, line: &str, op: u32) -> Duration {
    let t0 = Instant::now();
    host.ftp(line, op, 1, 120).await;
    t0.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let s = if bench { &BENCH } else { &SMOKE };
    let server = start(s.kind, ServerOptions::default())
        .await
        .expect("server");

    // Rate, down: a retrieve.
    let (link, bytes, rate) = s.down;
    server.put_file("down.bin", vec![0x5a; bytes]).unwrap();
    let m = modem_with_link(link);
    let mut host = AtHost::connect(&m).await;
    login(&mut host, &server, true).await;
    let took = timed_op(&mut host, "AT+UFTPC=4,\"down.bin\",\"down.bin\"", 4).await;
    row(
        &format!("retrieve {} KiB at {link}", bytes >> 10),
        took,
        Duration::from_secs_f64(bytes as f64 * 8.0 / rate),
    );

    // Rate, up: a store.
    let (link, bytes, rate) = s.up;
    let m = modem_with_link(link);
    m.filesystem().append("up.bin", &vec![0xa5; bytes]).unwrap();
    let mut host = AtHost::connect(&m).await;
    login(&mut host, &server, true).await;
    let took = timed_op(&mut host, "AT+UFTPC=5,\"up.bin\",\"up.bin\"", 5).await;
    row(
        &format!("store {} KiB at {link}", bytes >> 10),
        took,
        Duration::from_secs_f64(bytes as f64 * 8.0 / rate),
    );

    // Round trip: one CWD exchange.
    let m = modem_with_link(s.rtt);
    let mut host = AtHost::connect(&m).await;
    login(&mut host, &server, true).await;
    let took = timed_op(&mut host, "AT+UFTPC=8,\"/\"", 8).await;
    let rtt = LinkSpec::parse(s.rtt).unwrap().rtt;
    row(&format!("CWD at {}", s.rtt), took, rtt);

    // UART pacing: +URDFILE on a paced terminal.
    urdfile(s.baud, s.urdfile).await;

    // The socket layer's cost when off.
    overhead(&server, s.overhead_bytes, s.rounds).await;
}

async fn urdfile(baud: u32, len: usize) {
    let m = Modem::new(ModemConfig::default()).unwrap();
    m.filesystem()
        .append("paced.bin", &vec![b'p'; len])
        .unwrap();
    let (io, device) = tokio::io::duplex(1 << 20);
    let mm = m.clone();
    tokio::spawn(async move {
        let lines = ubx_terminal::driver::HostLines {
            pace: Some(baud),
            ..Default::default()
        };
        ubx_terminal::driver::serve_with_lines(&mm, device, None, lines).await
    });
    let mut host = AtHost::from_stream(io);
    host.cmd("ATE0", b"ATE0\r\r\nOK\r\n").await;
    let command = "AT+URDFILE=\"paced.bin\"";
    let head = format!("\r\n+URDFILE: \"paced.bin\",{len},\"");
    let answer_len = head.len() + len + "\"\r\nOK\r\n".len();
    let t0 = Instant::now();
    host.send(command).await;
    host.take(answer_len, 60).await;
    let took = t0.elapsed();
    // The command and the answer cross the line one after the other.
    let bytes = command.len() + 2 + answer_len;
    row(
        &format!("AT+URDFILE of {} KiB at {baud} baud", len >> 10),
        took,
        Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud)),
    );
}

async fn retr_once(server: &RunningServer, layer: Option<Arc<FieldLayer>>) -> Duration {
    let mut opts = ConnectOptions::new(
        server.addr.ip().to_string(),
        server.addr.port(),
        server.user.clone(),
        server.password.as_str(),
    );
    opts.data_mode = DataMode::Passive;
    opts.socket_layer = layer.map(|l| l as Arc<dyn ftp_client::SocketLayer>);
    let mut session = FtpSession::connect(opts).await.expect("login");
    let mut sink = tokio::io::sink();
    let t0 = Instant::now();
    session
        .retrieve_to("overhead.bin", 0, &mut sink, &mut |_| {})
        .await
        .expect("retrieve");
    let took = t0.elapsed();
    let _ = sink.flush().await;
    let _ = session.quit().await;
    took
}

async fn overhead(server: &RunningServer, bytes: usize, rounds: usize) {
    server.put_file("overhead.bin", vec![7u8; bytes]).unwrap();
    let (field, _) = Field::new(&FieldConfig::default());
    let layer = Arc::new(FieldLayer(field));
    let (mut bare, mut layered) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        bare.push(retr_once(server, None).await);
        layered.push(retr_once(server, Some(layer.clone())).await);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (b, l) = (median(&mut bare), median(&mut layered));
    let mbps = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!(
        "RETR {} MiB, engine alone {:>8.1} MB/s   with the unshaped field layer {:>8.1} MB/s   ratio {:.3}",
        bytes >> 20,
        mbps(b),
        mbps(l),
        mbps(l) / mbps(b)
    );
}
