//! Downloads one file over FTP or FTPS and prints progress.
//!
//! ```text
//! cargo run -p ftp-client --example get -- HOST PORT USER PASSWORD REMOTE_PATH LOCAL_FILE [--tls CA.pem] [--active] [--offset N]
//! ```
//!
//! `--tls CA.pem` uses explicit FTPS (`AUTH TLS`, `PROT P`) and trusts only the given
//! root(s), checking chain, name and dates. `--offset N` resumes from byte N (`REST N`)
//! and appends to LOCAL_FILE.

use std::time::Instant;

use ftp_client::{
    CertVerification, ConnectOptions, DataMode, FtpSession, TlsOptions, certs_from_pem,
};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 6 {
        eprintln!(
            "usage: get HOST PORT USER PASSWORD REMOTE_PATH LOCAL_FILE [--tls CA.pem] [--active] [--offset N]"
        );
        std::process::exit(2);
    }
    let mut opts = ConnectOptions::new(&args[0], args[1].parse()?, &args[2], args[3].as_str());
    let mut offset = 0u64;
    let mut rest = args[6..].iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--tls" => {
                let pem = std::fs::read(rest.next().ok_or("--tls needs a PEM file")?)?;
                opts.tls = Some(TlsOptions {
                    verification: CertVerification::Full,
                    roots: certs_from_pem(&pem)?,
                    ..Default::default()
                });
            }
            "--active" => opts.data_mode = DataMode::Active { ports: None },
            "--offset" => offset = rest.next().ok_or("--offset needs a number")?.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }

    let mut session = FtpSession::connect(opts).await?;
    println!("connected to {}", session.peer_addr());
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(offset > 0)
        .truncate(offset == 0)
        .open(&args[5])
        .await?;
    let started = Instant::now();
    let mut last_report = 0u64;
    let result = session
        .retrieve_to(&args[4], offset, &mut file, &mut |bytes| {
            if bytes - last_report >= 1 << 20 {
                last_report = bytes;
                println!("{} KiB", bytes / 1024);
            }
        })
        .await;
    match result {
        Ok(summary) => {
            file.flush().await?;
            println!(
                "{} bytes in {:.2?}; server: {}",
                summary.bytes,
                started.elapsed(),
                summary.reply
            );
        }
        // Every error names the server reply (with its exact code) or the local cause.
        Err(e) => {
            eprintln!("failed: {e} (reply code {:?})", e.reply_code());
        }
    }
    let _ = session.quit().await;
    Ok(())
}
