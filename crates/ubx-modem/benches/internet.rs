//! HTTP and MQTT services beside their references, in one run:
//!
//! - `AT+UHTTPC=0,1` (GET into the module file system) of a generated body from test-servers'
//!   HTTP server, timed from the command to `+UUHTTPCR`, beside curl fetching the same URL into a
//!   file in the same folder;
//! - `AT+UHTTPC=0,6` (the direct-link GET) of the same body, read by the host as fast as it can,
//!   beside curl to `/dev/null`;
//! - MQTT: N QoS 1 publishes of 100 bytes through `AT+UMQTTC=2` (each waits for its
//!   `+UUMQTTC: 2,1`, as a driver does), beside `mosquitto_pub -q 1` sending the same N lines
//!   (`-l`, one connection), against the same mosquitto.
//!
//! `cargo bench -p ubx-modem --bench internet` moves 256 MiB over HTTP and 2000 MQTT messages,
//! 3 rounds each, alternating, medians. Without `--bench` (`cargo test --all-targets`) it is a
//! smoke run of 2 MiB and 50 messages whose figures mean nothing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use common::AtHost;
use test_servers::http::HttpServer;
use test_servers::mqtt::Mosquitto;
use ubx_modem::{Modem, ModemConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
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

async fn http(full: bool) {
    let size: u64 = if full { 256 << 20 } else { 2 << 20 };
    let rounds = if full { 3 } else { 1 };
    let server = HttpServer::start().await.expect("HTTP server");
    let modem = Modem::new(ModemConfig {
        fs_size: 4 * size + (1 << 20),
        ..ModemConfig::default()
    })
    .expect("modem");
    let root = modem.filesystem().root().to_path_buf();
    let mut host = AtHost::connect(&modem).await;
    host.ok("AT+UHTTP=0,0,\"127.0.0.1\"").await;
    host.ok(&format!("AT+UHTTP=0,5,{}", server.addr().port()))
        .await;
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

async fn mqtt(full: bool) {
    let count = if full { 2000 } else { 50 };
    let rounds = if full { 3 } else { 1 };
    let broker = Mosquitto::start().await.expect("mosquitto");
    let modem = Modem::new(ModemConfig::default()).expect("modem");
    let mut host = AtHost::connect(&modem).await;
    host.ok(&format!(
        "AT+UMQTT=3,\"127.0.0.1\",{}",
        broker.addr().port()
    ))
    .await;
    host.ok("AT+UMQTTC=1").await;
    host.expect_within(b"\r\n+UUMQTTC: 1,1\r\n", 10).await;
    let payload = "x".repeat(100);
    let lines: String = (0..count).map(|_| format!("{payload}\n")).collect();
    let (mut module, mut reference) = (vec![], vec![]);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..count {
            host.ok(&format!("AT+UMQTTC=2,1,0,0,\"bench/t\",\"{payload}\""))
                .await;
            host.expect_within(b"\r\n+UUMQTTC: 2,1\r\n", 10).await;
        }
        module.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let mut child = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.addr().port().to_string()])
            .args(["-q", "1", "-t", "bench/t", "-l"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("mosquitto_pub");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(lines.as_bytes()).expect("lines");
        }
        assert!(child.wait().expect("wait").success());
        reference.push(started.elapsed().as_secs_f64());
    }
    let rate = |secs: f64| count as f64 / secs;
    let (m, r) = (rate(median(module)), rate(median(reference)));
    println!("MQTT {count} QoS 1 publishes of 100 bytes, {rounds} round(s), medians");
    println!(
        "  AT+UMQTTC=2, one at a time {m:>9.0} msg/s   mosquitto_pub -l {r:>9.0} msg/s   ratio {:.2}",
        m / r
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        println!("(smoke run: figures mean nothing)");
    }
    http(full).await;
    mqtt(full).await;
}
