//! Throughput of RETR and STOR, plain FTP and FTPS (PROT P), against vsftpd on
//! loopback, side by side with curl on the same file in the same run.
//!
//! ```text
//! cargo run --release -p ftp-client --example bench [-- SIZE_MIB]   # default 256
//! ```
//! Needs the test servers (`scripts/install-test-deps`) and `curl`. Prints MB/s
//! (10^6 bytes per second) and the ratio ours / curl.

use std::process::Command;
use std::time::Instant;

use ftp_client::{
    CertVerification, ConnectOptions, DataProtection, FtpSession, StoreMode, TlsOptions,
    certs_from_pem,
};
use test_servers::{Kind, RunningServer, ServerOptions, start};

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn opts(srv: &RunningServer, tls: bool) -> Result<ConnectOptions, Box<dyn std::error::Error>> {
    let mut o = ConnectOptions::new(
        srv.addr.ip().to_string(),
        srv.addr.port(),
        srv.user.clone(),
        srv.password.as_str(),
    );
    if tls {
        let pem = std::fs::read(srv.cert_pem.as_ref().ok_or("no cert")?)?;
        o.tls = Some(TlsOptions {
            verification: CertVerification::Full,
            roots: certs_from_pem(&pem)?,
            data_protection: DataProtection::Private,
            ..Default::default()
        });
    }
    Ok(o)
}

fn curl(srv: &RunningServer, tls: bool, args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--user"])
        .arg(format!("{}:{}", srv.user, srv.password));
    if tls {
        cmd.arg("--ssl-reqd")
            .arg("--cacert")
            .arg(srv.cert_pem.as_ref().ok_or("no cert")?);
    }
    cmd.args(args);
    let started = Instant::now();
    let status = cmd.status()?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("curl failed: {status}").into());
    }
    Ok(secs)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(256);
    let size = mib << 20;
    println!(
        "{:<6} {:<5} {:>12} {:>12} {:>7}",
        "mode", "op", "ours MB/s", "curl MB/s", "ratio"
    );
    for tls in [false, true] {
        let srv = start(
            Kind::Vsftpd,
            ServerOptions {
                tls,
                ..Default::default()
            },
        )
        .await?;
        let data: Vec<u8> = (0..size).map(|i| ((i * 2654435761) >> 13) as u8).collect();
        let src = srv.put_file("big.bin", &data)?;
        drop(data);
        let url = |name: &str| format!("ftp://{}/{name}", srv.addr);
        let mode = if tls { "ftps" } else { "ftp" };

        // RETR
        let mut s = FtpSession::connect(opts(&srv, tls)?).await?;
        let started = Instant::now();
        let got = s
            .retrieve_to("big.bin", 0, &mut tokio::io::sink(), &mut |_| {})
            .await?;
        let ours = started.elapsed().as_secs_f64();
        assert_eq!(got.bytes, size);
        let theirs = curl(&srv, tls, &["-o", "/dev/null", &url("big.bin")])?;
        println!(
            "{mode:<6} {:<5} {:>12.1} {:>12.1} {:>7.2}",
            "RETR",
            mbps(size, ours),
            mbps(size, theirs),
            theirs / ours
        );

        // STOR (both read the same local file)
        let mut file = tokio::fs::File::open(&src).await?;
        let started = Instant::now();
        let sent = s
            .store_from("up-ours.bin", StoreMode::Replace, &mut file, &mut |_| {})
            .await?;
        let ours = started.elapsed().as_secs_f64();
        assert_eq!(sent.bytes, size);
        let src_text = src.to_string_lossy().to_string();
        let theirs = curl(&srv, tls, &["-T", &src_text, &url("up-curl.bin")])?;
        println!(
            "{mode:<6} {:<5} {:>12.1} {:>12.1} {:>7.2}",
            "STOR",
            mbps(size, ours),
            mbps(size, theirs),
            theirs / ours
        );
        let _ = s.quit().await;
    }
    println!("ratio = ours / curl throughput (> 1: faster than curl)");
    Ok(())
}
