//! What a fleet costs: memory of idle modules and of idle terminals, how fast a fleet starts,
//! and many modules retrieving at once beside curl with the same concurrency.
//!
//! - idle modules: RSS of the process before and after building N modules (`/proc/self/statm`),
//!   per module, and the time the building took;
//! - idle terminals: RSS before and after opening T TCP terminals (driver over real loopback
//!   TCP) on those modules, per terminal;
//! - concurrent retrieves: M modules each `AT+UFTPC=4` of a 1 MiB file from vsftpd at once,
//!   wall time and aggregate MB/s, beside M curl processes fetching the same files at once. Both
//!   use active mode (the test server's passive port block is 32 ports).
//!
//! `cargo bench -p ubx-modem --bench fleet`: N = 10 000, T = 1000, M = 1000. Without `--bench`
//! (the test suite) N = 200, T = 20, M = 4 against libunftp: a smoke run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use common::AtHost;
use test_servers::{Kind, ServerOptions, start};
use ubx_modem::{Modem, ModemConfig};

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let m_env: Option<usize> = std::env::var("UBXFTP_BENCH_FLEET_M")
        .ok()
        .and_then(|v| v.parse().ok());
    let (n, t, m, kind, size) = if bench {
        (10_000, 1000, m_env.unwrap_or(1000), Kind::Vsftpd, 1 << 20)
    } else {
        (200, 20, 4, Kind::Libunftp, 64 << 10)
    };
    let dir = tempfile::tempdir().unwrap();

    // Idle modules.
    let before = rss_kib();
    let t0 = Instant::now();
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
    let took = t0.elapsed();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = rss_kib();
    println!(
        "{n} idle modules: built in {:.3} s, RSS {} -> {} KiB, {:.1} KiB per module (goal <= 64)",
        took.as_secs_f64(),
        before,
        after,
        (after.saturating_sub(before)) as f64 / n as f64
    );

    // Idle TCP terminals.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept_modems = modems.clone();
    tokio::spawn(async move {
        let mut i = 0;
        while let Ok((stream, _)) = listener.accept().await {
            let modem = accept_modems[i % accept_modems.len()].clone();
            i += 1;
            tokio::spawn(async move { ubx_terminal::driver::serve(&modem, stream, None).await });
        }
    });
    let before = rss_kib();
    let mut clients = Vec::new();
    for _ in 0..t {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // One command each, so every terminal has been used once and is idle again.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"AT\r").await.unwrap();
        let mut b = [0u8; 64];
        let _ = s.read(&mut b).await;
        clients.push(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = rss_kib();
    println!(
        "{t} idle TCP terminals: RSS {} -> {} KiB, {:.1} KiB per terminal (goal <= 16)",
        before,
        after,
        (after.saturating_sub(before)) as f64 / t as f64
    );
    drop(clients);

    // Concurrent retrieves, beside curl.
    let server = start(kind, ServerOptions::default()).await.unwrap();
    for i in 0..m {
        server
            .put_file(&format!("f{i}.bin"), vec![i as u8; size])
            .unwrap();
    }
    // Active mode for both sides: a test server offers a block of 32 passive ports only, which
    // 1000 transfers at once would exhaust (vsftpd answers "500 OOPS" then). No inactivity
    // timeout: the logins come one after the other, and the first would idle out meanwhile.
    let mut hosts = Vec::new();
    for modem in modems.iter().take(m) {
        let mut host = AtHost::connect(modem).await;
        common::set_profile(
            &mut host,
            server.addr,
            &server.user,
            &server.password,
            false,
        )
        .await;
        host.ok("AT+UFTP=5,0").await;
        host.ftp("AT+UFTPC=1", 1, 1, 60).await;
        hosts.push(host);
    }
    let t0 = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for (i, mut host) in hosts.into_iter().enumerate() {
        runs.spawn(async move {
            host.ok(&format!("AT+UFTPC=4,\"f{i}.bin\",\"f.bin\"")).await;
            let urc = host.urc_line(600).await;
            if urc == "+UUFTPCR: 4,1" {
                return None;
            }
            host.send("AT+UFTPER").await;
            Some(host.urc_line(10).await)
        });
    }
    let mut failures: std::collections::BTreeMap<String, usize> = Default::default();
    while let Some(r) = runs.join_next().await {
        if let Ok(Some(error)) = r {
            *failures.entry(error).or_default() += 1;
        }
    }
    let ours = t0.elapsed().as_secs_f64();
    if !failures.is_empty() {
        println!("failed retrieves by +UFTPER: {failures:?}");
    }
    let total = (m * size) as f64;
    let t0 = Instant::now();
    let curls: Vec<_> = (0..m)
        .map(|i| {
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "--ftp-port", "-", "--user"])
                .arg(format!("{}:{}", server.user, server.password))
                .arg(format!("ftp://{}/f{i}.bin", server.addr))
                .spawn()
        })
        .collect();
    for mut c in curls.into_iter().flatten() {
        let _ = c.wait();
    }
    let curl = t0.elapsed().as_secs_f64();
    println!(
        "{m} modules x AT+UFTPC=4 of {} KiB at once: {ours:.2} s, {:.1} MB/s   {m} curl at once: {curl:.2} s, {:.1} MB/s   ratio {:.2}",
        size >> 10,
        total / ours / 1e6,
        total / curl / 1e6,
        curl / ours
    );
}
