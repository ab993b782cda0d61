//! Accuracy of the field conditions, measured in real time against a real server, beside the
//! formula each should follow, and the cost of the shaping layer when it is off.
//!
//! - rate: a 1 MiB retrieve (`AT+UFTPC=4`) at `down=2mbit` and a 512 KiB store (`AT+UFTPC=5`)
//!   at `up=1mbit`, from the command to its `+UUFTPCR`, against `bytes × 8 / rate`;
//! - round trip: `AT+UFTPC=8` (one CWD exchange) under `rtt=300ms`, against 300 ms;
//! - the connect's round trip: a login (`AT+UFTPC=1`) then a CWD on a new module under
//!   `rtt=300ms`, from the login command to the CWD's `+UUFTPCR`, against six round trips: the
//!   control connection's handshake, the greeting (the server speaks once the module's ACK
//!   reached it, half a round trip, and is heard half a round trip later), then `USER`, `PASS`,
//!   `TYPE I` (the engine's login) and `CWD`, one each (docs/FIELD.md, the model);
//! - UART pacing: `AT+URDFILE` of 32 KiB on a terminal paced at 115200 baud, from the command
//!   to the last byte of the answer, against `bytes × 10 / 115200`;
//! - overhead: RETR of a file with the FTP engine alone, with and without the module's socket
//!   layer (unshaped), alternating, medians; the goal is a ratio ≥ 0.95;
//! - HTTP: `AT+UHTTPC=0,1` (a GET into a module file) of 64 KiB from test-servers' HTTP server
//!   under `--link nb-iot`, from the command to its `+UUHTTPCR`, against the link's formula: the
//!   connect's round trip (SYN and SYN-ACK, each with a mean jitter of `jitter / 2`), the request
//!   up (`bytes / up + rtt / 2`), the response down (`bytes / down + rtt / 2`), and the mean of
//!   the jitter each way (`jitter / 2`, twice: one request chunk, and the response's last chunk,
//!   which nothing before it can hold back since the chunks are further apart than the jitter).
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
    http: (&'static str, u64),
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
    http: ("nb-iot", 64 << 10),
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
    http: ("down=64mbit,up=64mbit,rtt=20ms,jitter=4ms", 64 << 10),
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

    // The connect's round trip: a login and a CWD on a new module.
    login_cwd(&server, s.rtt).await;

    // UART pacing: +URDFILE on a paced terminal.
    urdfile(s.baud, s.urdfile).await;

    // The socket layer's cost when off.
    overhead(&server, s.overhead_bytes, s.rounds).await;

    // HTTP: a GET into a module file.
    let (link, bytes) = s.http;
    http_get(link, bytes).await;
}

/// A login and a CWD on a new module under `link` (a round trip, no jitter), against the model's
/// six round trips (the module docs above).
async fn login_cwd(server: &RunningServer, link: &str) {
    let m = modem_with_link(link);
    let mut host = AtHost::connect(&m).await;
    common::set_profile(&mut host, server.addr, &server.user, &server.password, true).await;
    let t0 = Instant::now();
    host.ftp("AT+UFTPC=1", 1, 1, 60).await;
    host.ftp("AT+UFTPC=8,\"/\"", 8, 1, 60).await;
    let took = t0.elapsed();
    let rtt = LinkSpec::parse(link).unwrap().rtt;
    row(&format!("login + CWD at {link}"), took, rtt * 6);
}

/// The time the link's model gives a request of `up` bytes answered by `down` bytes on a new
/// connection (the spec's rates are in bytes per second): the connect's round trip with the mean
/// jitter of its SYN and SYN-ACK, each way's bytes at its rate and half the round trip, and the
/// mean jitter of the request's chunk and of the response's last chunk.
fn http_formula(spec: &LinkSpec, up: u64, down: u64) -> Duration {
    let at = |bytes: u64, rate: Option<u64>| rate.map_or(0.0, |r| bytes as f64 / r as f64);
    let secs = spec.rtt.as_secs_f64() * 2.0
        + at(up, spec.up)
        + at(down, spec.down)
        + spec.jitter.as_secs_f64() * 2.0;
    Duration::from_secs_f64(secs)
}

/// The bytes of a request as it went out: its request line, its headers and the empty line.
fn request_bytes(r: &test_servers::http::SeenRequest) -> u64 {
    let line = r.method.len() + 1 + r.target().len() + 1 + r.version.len() + 2;
    let headers: usize = r
        .headers
        .iter()
        .map(|(n, v)| n.len() + 2 + v.len() + 2)
        .sum();
    (line + headers + 2) as u64 + r.body_len
}

async fn http_get(link: &str, bytes: u64) {
    let server = test_servers::http::HttpServer::start()
        .await
        .expect("HTTP server");
    let m = modem_with_link(link);
    let mut host = AtHost::connect(&m).await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
    let t0 = Instant::now();
    host.ok(&format!("AT+UHTTPC=0,1,\"/pattern/{bytes}\",\"nb.bin\""))
        .await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,1,1\r\n", 300).await;
    let took = t0.elapsed();
    // The module file holds the response as it came: status line, headers, body.
    let down = m.filesystem().read("nb.bin").expect("response file").len() as u64;
    let up = server.requests().first().map_or(0, request_bytes);
    let spec = LinkSpec::parse(link).unwrap();
    row(
        &format!("HTTP GET {} KiB at {link}", bytes >> 10),
        took,
        http_formula(&spec, up, down),
    );
    let no_jitter = LinkSpec {
        jitter: Duration::ZERO,
        ..spec
    };
    let least = http_formula(&no_jitter, up, down);
    println!(
        "  (request {up} bytes up, response {down} bytes down: status line and headers {} bytes; the model's bounds, no jitter to all of it: {:.3}-{:.3} s)",
        down - bytes,
        least.as_secs_f64(),
        (least + spec.jitter * 4).as_secs_f64()
    );
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
