//! A fleet on MQTT: N modules in one process, each on an in-process terminal, log in to one
//! local mosquitto (`AT+UMQTT=3`, `AT+UMQTTC=1`) and publish once a second for S seconds
//! (`AT+UMQTTC=2,1,...` on `fleet/<i>`, QoS 1, each waiting for its `+UUMQTTC: 2,1`), the
//! modules' seconds spread over the second. A `mosquitto_sub` on `fleet/#` counts the distinct
//! topics and the messages the broker delivered, and the broker's own `$SYS/broker/clients/
//! connected` is read at the end.
//!
//! Memory (`VmRSS` of this process, after 0.5 s of quiet): before the modules, with the modules
//! and a terminal each, after every login, after the publishing; per module. The broker's
//! `VmRSS` beside it.
//!
//! `cargo bench -p ubx-modem --bench fleet_mqtt`: N = 1000, S = 10, in a process of its own so
//! that no earlier work's freed memory hides what the sessions take. Without `--bench` (the test
//! suite) N = 10, S = 2: a smoke run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_servers::mqtt::{Mosquitto, Subscriber, subscribe_once};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinSet;
use ubx_modem::{Modem, ModemConfig};

/// `VmRSS` of `pid` (`None`: this process) in KiB.
fn rss_kib(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".into(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Raises this process's soft limit of open files to its hard limit (the broker, started
/// afterwards, inherits it): N modules hold N sockets here and N in mosquitto.
fn raise_nofile() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    (limit.rlim_cur, limit.rlim_max)
}

/// A host on one terminal that keeps nothing but what it has not matched yet: small enough to
/// have a thousand (the tests' host reads with a 64 KiB buffer).
struct Host {
    io: DuplexStream,
    unread: Vec<u8>,
}

impl Host {
    fn connect(modem: &Modem) -> Host {
        let (io, device) = tokio::io::duplex(4096);
        let modem = modem.clone();
        tokio::spawn(async move { ubx_terminal::driver::serve(&modem, device, None).await });
        Host {
            io,
            unread: Vec::new(),
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), String> {
        let line = format!("{line}\r\n");
        self.io
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())
    }

    /// The next bytes must be `want`, within `secs`.
    async fn expect(&mut self, want: &[u8], secs: u64) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 256];
        while self.unread.len() < want.len() {
            match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.unread.extend_from_slice(&buf[..n]),
                _ => return Err(format!("timeout, have {:?}", self.text())),
            }
        }
        if &self.unread[..want.len()] != want {
            return Err(format!(
                "wanted {:?}, have {:?}",
                String::from_utf8_lossy(want),
                self.text()
            ));
        }
        self.unread.drain(..want.len());
        self.unread.shrink_to_fit();
        Ok(())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.unread).into_owned()
    }

    async fn ok(&mut self, line: &str) -> Result<(), String> {
        self.send(line).await?;
        self.expect(b"\r\nOK\r\n", 10).await
    }
}

/// Topic → messages the subscriber printed, filled by a task of its own.
type Counts = Arc<Mutex<HashMap<String, u32>>>;

fn count(mut sub: Subscriber) -> Counts {
    let counts = Counts::default();
    let mine = counts.clone();
    tokio::spawn(async move {
        while let Ok(m) = sub.next(Duration::from_secs(24 * 3600)).await {
            *mine.lock().unwrap().entry(m.topic).or_default() += 1;
        }
    });
    counts
}

fn totals(counts: &Counts) -> (usize, u64) {
    let counts = counts.lock().unwrap();
    (counts.len(), counts.values().map(|&n| u64::from(n)).sum())
}

async fn login(mut host: Host, port: u16) -> Result<Host, String> {
    host.ok(&format!("AT+UMQTT=3,\"127.0.0.1\",{port}")).await?;
    host.ok("AT+UMQTTC=1").await?;
    host.expect(b"\r\n+UUMQTTC: 1,1\r\n", 30).await?;
    Ok(host)
}

/// Logs every host in, at most 64 at once; the hosts that made it, and the failures.
async fn login_all(hosts: Vec<Host>, port: u16) -> (Vec<Host>, Vec<String>) {
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut runs = JoinSet::new();
    for host in hosts {
        let gate = gate.clone();
        runs.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            login(host, port).await
        });
    }
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    while let Some(r) = runs.join_next().await {
        match r.expect("login task") {
            Ok(host) => ok.push(host),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

/// Module `i` publishes at `start + k s + (i mod 1000) ms` for `secs` seconds. Per publish: how
/// late it started (ms) and the time from the command to its `+UUMQTTC: 2,1` (ms).
async fn publish_every_second(
    mut host: Host,
    i: usize,
    start: tokio::time::Instant,
    secs: u32,
) -> Result<Vec<(f64, f64)>, String> {
    let mut samples = Vec::new();
    for k in 0..secs {
        let at =
            start + Duration::from_secs(u64::from(k)) + Duration::from_millis((i % 1000) as u64);
        tokio::time::sleep_until(at).await;
        let late = at.elapsed().as_secs_f64() * 1e3;
        let t0 = Instant::now();
        host.ok(&format!("AT+UMQTTC=2,1,0,0,\"fleet/{i}\",\"{i}:{k}\""))
            .await?;
        host.expect(b"\r\n+UUMQTTC: 2,1\r\n", 10).await?;
        samples.push((late, t0.elapsed().as_secs_f64() * 1e3));
    }
    Ok(samples)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Runs the publishing phase; prints how it went.
async fn publish_all(hosts: Vec<Host>, secs: u32) -> usize {
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let mut runs = JoinSet::new();
    for (i, host) in hosts.into_iter().enumerate() {
        runs.spawn(publish_every_second(host, i, start, secs));
    }
    let (mut late, mut acked, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(r) = runs.join_next().await {
        match r.expect("publish task") {
            Ok(samples) => samples.into_iter().for_each(|(l, a)| {
                late.push(l);
                acked.push(a);
            }),
            Err(e) => failed.push(e),
        }
    }
    println!(
        "  {} publishes acknowledged (+UUMQTTC: 2,1), {} modules failed{}; command to URC p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; start late p50 {:.2} ms, max {:.2} ms",
        acked.len(),
        failed.len(),
        failed
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        percentile(&mut acked, 50.0),
        percentile(&mut acked, 99.0),
        percentile(&mut acked, 100.0),
        percentile(&mut late, 50.0),
        percentile(&mut late, 100.0),
    );
    acked.len()
}

/// Waits until `want` messages were counted or none came for 3 s.
async fn wait_counted(counts: &Counts, want: u64) {
    let mut last = (0, tokio::time::Instant::now());
    loop {
        let (_, total) = totals(counts);
        if total >= want || last.1.elapsed() > Duration::from_secs(3) {
            return;
        }
        if total != last.0 {
            last = (total, tokio::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The broker's `$SYS/broker/clients/connected`: with `fresh`, the next update (mosquitto
/// publishes its `$SYS` topics every 10 s), not the retained one.
async fn clients_connected(broker: &Mosquitto, fresh: bool) -> String {
    let topic = "$SYS/broker/clients/connected";
    let within = Duration::from_secs(15);
    let value = if fresh {
        match Subscriber::start(broker.endpoint(), topic, 0).await {
            Ok(mut sub) => match sub.next(within).await {
                Ok(_retained) => sub.next(within).await.map(|m| m.payload),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    } else {
        subscribe_once(broker.endpoint(), topic, within).await
    };
    value
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_else(|e| format!("unread ({e})"))
}

fn per_module(from: u64, to: u64, n: usize) -> String {
    format!(
        "{from} -> {to} KiB, {:.1} KiB per module",
        to.saturating_sub(from) as f64 / n as f64
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (n, secs) = if bench { (1000, 10) } else { (10, 2) };
    let (soft, hard) = raise_nofile();
    let dir = tempfile::tempdir().unwrap();
    let fresh = rss_kib(None);
    let modems: Vec<Modem> = (0..n)
        .map(|i| {
            Modem::new(ModemConfig {
                fs_dir: Some(dir.path().join(i.to_string())),
                fs_lazy: true,
                imei: Some(format!("{i:015}")),
                ..ModemConfig::default()
            })
            .unwrap()
        })
        .collect();
    let mut hosts = Vec::new();
    for modem in &modems {
        let mut host = Host::connect(modem);
        host.send("ATE0").await.unwrap();
        host.expect(b"ATE0\r\r\nOK\r\n", 10).await.unwrap();
        hosts.push(host);
    }
    let broker = Mosquitto::start().await.expect("mosquitto");
    let counts = count(
        Subscriber::start(broker.endpoint(), "fleet/#", 1)
            .await
            .expect("mosquitto_sub"),
    );
    settle().await;
    let (idle, broker_idle) = (rss_kib(None), rss_kib(broker.pid()));
    let t0 = Instant::now();
    let (hosts, failed) = login_all(hosts, broker.addr().port()).await;
    let login_secs = t0.elapsed().as_secs_f64();
    settle().await;
    let (logged_in, broker_logged_in) = (rss_kib(None), rss_kib(broker.pid()));
    println!(
        "{n} modules on MQTT (open files: soft {soft}, hard {hard}); {} logged in within {login_secs:.2} s, {} failed{}",
        hosts.len(),
        failed.len(),
        failed
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    let logged = hosts.len();
    println!("  publishing once a second for {secs} s on fleet/<i>, QoS 1");
    let acked = publish_all(hosts, secs).await;
    wait_counted(&counts, acked as u64).await;
    settle().await;
    let (after, broker_after) = (rss_kib(None), rss_kib(broker.pid()));
    let (topics, messages) = totals(&counts);
    let connected = clients_connected(&broker, bench).await;
    println!(
        "  mosquitto_sub on fleet/# saw {topics} distinct module topics and {messages} messages (of {acked} acknowledged); $SYS/broker/clients/connected: {connected} (the modules, the counting subscriber and the one reading this)"
    );
    println!(
        "  this process, modules and a terminal each:     {}",
        per_module(fresh, idle, n)
    );
    println!(
        "  this process, their MQTT sessions logged in:   {}",
        per_module(idle, logged_in, logged)
    );
    println!(
        "  this process, after publishing:               {}",
        per_module(logged_in, after, logged)
    );
    println!(
        "  this process, all of it:                      {}",
        per_module(fresh, after, n)
    );
    println!(
        "  mosquitto: {}",
        per_module(broker_idle, broker_logged_in, logged)
    );
    println!("  mosquitto after publishing: {broker_after} KiB");
    drop(modems);
}
