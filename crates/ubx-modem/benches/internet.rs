//! HTTP and MQTT services beside their references, in one run:
//!
//! - `http`: `AT+UHTTPC=0,1` (GET into the module file system) of a generated body from
//!   test-servers' HTTP server, timed from the command to `+UUHTTPCR`, beside curl fetching the
//!   same URL into a file in the same folder; `AT+UHTTPC=0,6` (the direct-link GET) of the same
//!   body, read by the host as fast as it can, beside curl to `/dev/null`;
//! - `idle-host`: the direct-link GET of the same body while the host reads nothing for a few
//!   seconds: the process's `VmRSS` sampled every 100 ms against its value before the command,
//!   beside curl writing the same body into a pipe nobody reads (its `VmRSS`); then every byte
//!   is read and checked. It runs first, in a process that has moved nothing yet;
//! - `mqtt-rate`: N publishes of 100 bytes through `AT+UMQTTC=2` at QoS 1 and at QoS 0 (each
//!   waits for its `OK` and `+UUMQTTC: 2,1`, as a driver does), beside `mosquitto_pub -q <qos>`
//!   sending the same N lines (`-l`, one connection, its process start included), against the
//!   same mosquitto; a `mosquitto_sub` on `bench/#` counts what each delivered;
//! - `mqtt-latency`: one publish at a time, from the command line (the module) or the line
//!   written to a running `mosquitto_pub -l` (the reference) until test-servers' `Subscriber`
//!   (`mosquitto_sub`, subscribed at QoS 1) has printed it, at QoS 0 and 1; and a one-shot
//!   `mosquitto_pub -m` (process start, connect, publish) as a second reference.
//!
//! `cargo bench -p ubx-modem --bench internet` moves 256 MiB over HTTP, 2000 messages per rate
//! round, 500 latency samples per contender and QoS, 3–5 rounds alternating. Names after `--`
//! run only the sections they name (`-- idle-host mqtt-latency`). Without `--bench`
//! (`cargo test --all-targets`) it is a smoke run of 2 MiB and a few messages whose figures mean
//! nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::AtHost;
use test_servers::http::HttpServer;
use test_servers::mqtt::{Endpoint, Mosquitto, Subscriber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use ubx_modem::{Modem, ModemConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The `p`-th percentile (0–100) of `v`, nearest rank.
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// A `kB` field of `/proc/<pid>/status` (`None`: this process), 0 if it cannot be read.
fn status_kib(pid: Option<u32>, key: &str) -> u64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".into(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn curl(url: &str, out: &str) -> f64 {
    let started = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "-o", out, url])
        .status()
        .expect("curl");
    assert!(status.success(), "curl {url}");
    started.elapsed().as_secs_f64()
}

async fn get_into_file(host: &mut AtHost, size: u64) -> f64 {
    let started = Instant::now();
    host.ok(&format!("AT+UHTTPC=0,1,\"/pattern/{size}\",\"big.bin\""))
        .await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,1,1\r\n", 600).await;
    started.elapsed().as_secs_f64()
}

async fn get_direct(host: &mut AtHost, size: u64) -> f64 {
    let started = Instant::now();
    host.send(&format!("AT+UHTTPC=0,6,\"/pattern/{size}\""))
        .await;
    host.expect_within(b"\r\nCONNECT\r\n", 30).await;
    let mut left = size as usize;
    while left > 0 {
        let n = left.min(1 << 20);
        host.take(n, 60).await;
        left -= n;
    }
    let secs = started.elapsed().as_secs_f64();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n", 30)
        .await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,6,1\r\n", 30).await;
    secs
}

/// A module whose HTTP profile 0 points at `server`, and a host on it.
async fn http_module(server: &HttpServer, fs_size: u64) -> (Modem, AtHost) {
    let modem = Modem::new(ModemConfig {
        fs_size,
        ..ModemConfig::default()
    })
    .expect("modem");
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
    (modem, host)
}

async fn http(full: bool) {
    let size: u64 = if full { 256 << 20 } else { 2 << 20 };
    let rounds = if full { 3 } else { 1 };
    let server = HttpServer::start().await.expect("HTTP server");
    let (modem, mut host) = http_module(&server, 4 * size + (1 << 20)).await;
    let root = modem.filesystem().root().to_path_buf();
    let url = server.url(&format!("/pattern/{size}"));
    let copy = root.join("curl.bin");
    let (mut module, mut reference, mut direct, mut null) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        module.push(get_into_file(&mut host, size).await);
        reference.push(curl(&url, copy.to_str().expect("path")));
        direct.push(get_direct(&mut host, size).await);
        null.push(curl(&url, "/dev/null"));
    }
    let mbps = |secs: f64| size as f64 / secs / 1e6;
    let (m, r) = (mbps(median(module)), mbps(median(reference)));
    let (d, n) = (mbps(median(direct)), mbps(median(null)));
    println!("HTTP GET {} MiB, {rounds} round(s), medians", size >> 20);
    println!(
        "  AT+UHTTPC=0,1 into a module file {m:>8.1} MB/s   curl -o file      {r:>8.1} MB/s   ratio {:.2}",
        m / r
    );
    println!(
        "  AT+UHTTPC=0,6 direct link        {d:>8.1} MB/s   curl -o /dev/null {n:>8.1} MB/s   ratio {:.2}",
        d / n
    );
}

/// `VmRSS` of `pid` (`None`: this process) every 100 ms for `span`.
struct RssSamples {
    first: u64,
    peak: u64,
    last: u64,
    /// (seconds since the first sample, KiB) at the first sample and at every change.
    changes: Vec<(f64, u64)>,
}

async fn sample_rss(pid: Option<u32>, span: Duration) -> RssSamples {
    let started = Instant::now();
    let first = status_kib(pid, "VmRSS");
    let mut s = RssSamples {
        first,
        peak: first,
        last: first,
        changes: vec![(0.0, first)],
    };
    while started.elapsed() < span {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = status_kib(pid, "VmRSS");
        if now != s.last {
            s.changes.push((started.elapsed().as_secs_f64(), now));
        }
        s.last = now;
        s.peak = s.peak.max(now);
    }
    s
}

fn series(changes: &[(f64, u64)]) -> String {
    let shown: Vec<String> = changes
        .iter()
        .map(|(t, kib)| format!("{t:.1} s {kib}"))
        .collect();
    shown.join(", ")
}

/// Reads the terminal one byte at a time up to `CONNECT`, so that no byte of the body is read.
async fn read_to_connect(host: &mut AtHost) {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\nCONNECT\r\n") {
        tokio::time::timeout(Duration::from_secs(30), host.io.read_exact(&mut byte))
            .await
            .expect("CONNECT within 30 s")
            .expect("terminal");
        seen.push(byte[0]);
    }
}

/// Reads `size` bytes of the direct link and checks each is the pattern's (byte i = i % 256).
async fn read_pattern(host: &mut AtHost, size: u64) -> u64 {
    let mut at = 0u64;
    while at < size {
        let n = (size - at).min(1 << 20) as usize;
        let chunk = host.take(n, 60).await;
        let bad = chunk
            .iter()
            .enumerate()
            .position(|(i, b)| *b != ((at + i as u64) % 256) as u8);
        assert!(
            bad.is_none(),
            "byte {} is not the pattern's",
            at + bad.unwrap_or(0) as u64
        );
        at += n as u64;
    }
    at
}

/// curl writing the body into a pipe nobody reads for `span`: its `VmRSS` from 0.1 s after its
/// start, then the bytes read from the pipe.
async fn curl_not_read(url: &str, span: Duration) -> (RssSamples, u64) {
    let mut child = tokio::process::Command::new("curl")
        .args(["-sS", "-o", "-", url])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss = sample_rss(child.id(), span).await;
    let mut out = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match out.read(&mut buf).await.expect("curl's output") {
            0 => break,
            n => total += n as u64,
        }
    }
    assert!(child.wait().await.expect("curl").success());
    (rss, total)
}

async fn http_idle_host(full: bool) {
    let size: u64 = if full { 256 << 20 } else { 2 << 20 };
    let span = Duration::from_secs(if full { 10 } else { 1 });
    let server = HttpServer::start().await.expect("HTTP server");
    let (_modem, mut host) = http_module(&server, 1 << 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = status_kib(None, "VmRSS");
    host.send(&format!("AT+UHTTPC=0,6,\"/pattern/{size}\""))
        .await;
    read_to_connect(&mut host).await;
    let rss = sample_rss(None, span).await;
    let started = Instant::now();
    let got = read_pattern(&mut host, size).await;
    let secs = started.elapsed().as_secs_f64();
    host.expect_within(b"\r\nDISCONNECT\r\n\r\nOK\r\n", 30)
        .await;
    host.expect_within(b"\r\n+UUHTTPCR: 0,6,1\r\n", 30).await;
    let hwm = status_kib(None, "VmHWM");
    let (curl, c_got) = curl_not_read(&server.url(&format!("/pattern/{size}")), span).await;
    let growth = rss.peak.saturating_sub(before);
    println!(
        "HTTP direct-link GET of {} MiB, the host reading nothing for {:.0} s after CONNECT",
        size >> 20,
        span.as_secs_f64()
    );
    println!(
        "  module (this process): VmRSS before the command {before} KiB; from CONNECT on: {}; peak growth {growth} KiB = {:.2} % of the body",
        series(&rss.changes),
        growth as f64 / (size >> 10) as f64 * 100.0
    );
    println!(
        "  then read: {got} of {size} bytes, every byte the pattern's, in {secs:.2} s ({:.1} MB/s); process VmHWM {hwm} KiB",
        got as f64 / secs / 1e6
    );
    println!(
        "  curl -o - into an unread pipe: VmRSS from 0.1 s on: {}; growth {} KiB; then read {c_got} bytes",
        series(&curl.changes),
        curl.peak.saturating_sub(curl.first)
    );
    assert_eq!(got, size);
    assert_eq!(c_got, size);
}

/// A message the subscriber printed, and when the bench read it.
struct Delivery {
    at: Instant,
    topic: String,
    payload: Vec<u8>,
}

/// Reads `sub` on a task of its own, so the pipe never fills, stamping each message.
fn deliveries(mut sub: Subscriber) -> mpsc::UnboundedReceiver<Delivery> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(m) = sub.next(Duration::from_secs(24 * 3600)).await {
            let delivery = Delivery {
                at: Instant::now(),
                topic: m.topic,
                payload: m.payload,
            };
            if tx.send(delivery).is_err() {
                break;
            }
        }
    });
    rx
}

/// When the message `payload` on `topic` was delivered (others before it are an error).
async fn delivered(
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    topic: &str,
    payload: &str,
) -> Instant {
    let d = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery within 10 s")
        .expect("subscriber");
    assert_eq!(
        (d.topic.as_str(), d.payload.as_slice()),
        (topic, payload.as_bytes())
    );
    d.at
}

/// How many messages on `topic` arrive until `want` have or none has come for 2 s.
async fn count_delivered(
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    topic: &str,
    want: usize,
) -> usize {
    let mut n = 0;
    while n < want {
        match tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            Ok(Some(d)) => n += usize::from(d.topic == topic),
            _ => break,
        }
    }
    n
}

/// A module logged in to `broker`, and a host on it.
async fn mqtt_module(broker: &Mosquitto) -> (Modem, AtHost) {
    let modem = Modem::new(ModemConfig::default()).expect("modem");
    let mut host = AtHost::connect(&modem).await;
    host.ok(&format!(
        "AT+UMQTT=3,\"127.0.0.1\",{}",
        broker.addr().port()
    ))
    .await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
    (modem, host)
}

fn mosquitto_pub(to: &Endpoint, qos: u8, topic: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("mosquitto_pub");
    cmd.args(to.client_args())
        .args(["-q", &qos.to_string(), "-t", topic])
        .kill_on_drop(true);
    cmd
}

/// One rate round of `mosquitto_pub -l`: its whole run, seconds.
async fn pub_lines(to: &Endpoint, qos: u8, topic: &str, lines: &str) -> f64 {
    let started = Instant::now();
    let mut child = mosquitto_pub(to, qos, topic)
        .arg("-l")
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(lines.as_bytes()).await.expect("lines");
    drop(stdin);
    assert!(child.wait().await.expect("wait").success());
    started.elapsed().as_secs_f64()
}

async fn mqtt_rate(full: bool, qos: u8, broker: &Mosquitto, host: &mut AtHost) {
    let count = if full { 2000 } else { 50 };
    let rounds = if full { 3 } else { 1 };
    let sub = Subscriber::start(broker.endpoint(), "bench/#", 0)
        .await
        .expect("mosquitto_sub");
    let mut rx = deliveries(sub);
    let payload = "x".repeat(100);
    let lines: String = (0..count).map(|_| format!("{payload}\n")).collect();
    let (mut module, mut reference) = (vec![], vec![]);
    let (mut module_got, mut reference_got) = (vec![], vec![]);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..count {
            host.ok(&format!("AT+UMQTTC=2,{qos},0,0,\"bench/m\",\"{payload}\""))
                .await;
            host.expect_within(b"\r\n+UUMQTTC: 2,1\r\n", 10).await;
        }
        module.push(started.elapsed().as_secs_f64());
        module_got.push(count_delivered(&mut rx, "bench/m", count).await);
        reference.push(pub_lines(&broker.endpoint(), qos, "bench/p", &lines).await);
        reference_got.push(count_delivered(&mut rx, "bench/p", count).await);
    }
    let rate = |secs: f64| count as f64 / secs;
    let (m, r) = (rate(median(module)), rate(median(reference)));
    println!("MQTT {count} QoS {qos} publishes of 100 bytes, {rounds} round(s), medians");
    println!(
        "  AT+UMQTTC=2, one at a time {m:>9.0} msg/s   mosquitto_pub -l {r:>9.0} msg/s   ratio {:.2}",
        m / r
    );
    println!(
        "  delivered to mosquitto_sub per round: module {module_got:?}, mosquitto_pub {reference_got:?} (of {count})"
    );
}

/// Latencies in µs of `n` module publishes, command line to delivery.
async fn module_latency(
    host: &mut AtHost,
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    qos: u8,
    n: usize,
) -> Vec<f64> {
    let mut v = Vec::with_capacity(n);
    for k in 0..n {
        let payload = format!("m{qos}-{k}");
        let started = Instant::now();
        host.send(&format!("AT+UMQTTC=2,{qos},0,0,\"lat/m\",\"{payload}\""))
            .await;
        let at = delivered(rx, "lat/m", &payload).await;
        v.push((at - started).as_secs_f64() * 1e6);
        host.expect(b"\r\nOK\r\n").await;
        host.expect_within(b"\r\n+UUMQTTC: 2,1\r\n", 10).await;
    }
    v
}

/// Latencies in µs of `n` lines written to a running `mosquitto_pub -l`.
async fn line_latency(
    stdin: &mut tokio::process::ChildStdin,
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    qos: u8,
    n: usize,
) -> Vec<f64> {
    let mut v = Vec::with_capacity(n);
    for k in 0..n {
        let payload = format!("p{qos}-{k}");
        let started = Instant::now();
        stdin
            .write_all(format!("{payload}\n").as_bytes())
            .await
            .expect("line");
        let at = delivered(rx, "lat/p", &payload).await;
        v.push((at - started).as_secs_f64() * 1e6);
    }
    v
}

/// Latencies in µs of `n` one-shot `mosquitto_pub -m`, process start to delivery.
async fn one_shot_latency(
    to: &Endpoint,
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    qos: u8,
    n: usize,
) -> Vec<f64> {
    let mut v = Vec::with_capacity(n);
    for k in 0..n {
        let payload = format!("o{qos}-{k}");
        let started = Instant::now();
        let mut child = mosquitto_pub(to, qos, "lat/o")
            .args(["-m", &payload])
            .spawn()
            .expect("mosquitto_pub");
        let at = delivered(rx, "lat/o", &payload).await;
        v.push((at - started).as_secs_f64() * 1e6);
        assert!(child.wait().await.expect("wait").success());
    }
    v
}

fn latency_row(what: &str, v: &[f64], reference: &[f64]) {
    println!(
        "  {what:<40} p50 {:>8.1} µs  p90 {:>8.1}  p99 {:>8.1}  mean {:>8.1}   p50 ratio to mosquitto_pub -l {:.2}",
        percentile(v, 50.0),
        percentile(v, 90.0),
        percentile(v, 99.0),
        v.iter().sum::<f64>() / v.len() as f64,
        percentile(v, 50.0) / percentile(reference, 50.0)
    );
}

async fn mqtt_latency(full: bool, broker: &Mosquitto, host: &mut AtHost) {
    let (rounds, per_round, one_shots) = if full { (5, 100, 10) } else { (1, 5, 2) };
    let sub = Subscriber::start(broker.endpoint(), "lat/#", 1)
        .await
        .expect("mosquitto_sub");
    let mut rx = deliveries(sub);
    let to = broker.endpoint();
    for qos in [0u8, 1] {
        let mut child = mosquitto_pub(&to, qos, "lat/p")
            .arg("-l")
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub -l");
        let mut stdin = child.stdin.take().expect("stdin");
        // Warm-up: the connection up, each path used once.
        line_latency(&mut stdin, &mut rx, qos, 1).await;
        module_latency(host, &mut rx, qos, 1).await;
        let (mut module, mut lines, mut shots) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            module.extend(module_latency(host, &mut rx, qos, per_round).await);
            lines.extend(line_latency(&mut stdin, &mut rx, qos, per_round).await);
            shots.extend(one_shot_latency(&to, &mut rx, qos, one_shots).await);
        }
        drop(stdin);
        assert!(child.wait().await.expect("wait").success());
        println!(
            "MQTT end-to-end latency at QoS {qos} (publish to mosquitto_sub's output, subscribed at QoS 1), {} samples each ({} one-shot)",
            module.len(),
            shots.len()
        );
        latency_row("AT+UMQTTC=2 (command line to delivery)", &module, &lines);
        latency_row("mosquitto_pub -l (line to delivery)", &lines, &lines);
        latency_row("mosquitto_pub -m (process start)", &shots, &lines);
    }
}

async fn mqtt(full: bool, sections: &[String]) {
    let broker = Mosquitto::start().await.expect("mosquitto");
    let (_modem, mut host) = mqtt_module(&broker).await;
    if wanted(sections, "mqtt-rate") {
        mqtt_rate(full, 1, &broker, &mut host).await;
        mqtt_rate(full, 0, &broker, &mut host).await;
    }
    if wanted(sections, "mqtt-latency") {
        mqtt_latency(full, &broker, &mut host).await;
    }
}

/// Whether `name` runs: no names given, or one of them is `name`.
fn wanted(sections: &[String], name: &str) -> bool {
    sections.is_empty() || sections.iter().any(|s| s == name)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !full {
        println!("(smoke run: figures mean nothing)");
    }
    if wanted(&sections, "idle-host") {
        http_idle_host(full).await;
    }
    if wanted(&sections, "http") {
        http(full).await;
    }
    if wanted(&sections, "mqtt-rate") || wanted(&sections, "mqtt-latency") {
        mqtt(full, &sections).await;
    }
}
