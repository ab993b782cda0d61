//! Measures TLS session resumption on FTPS data connections: runs N consecutive
//! transfers (alternating STOR and RETR of a small file) on one session and counts
//! resumed handshakes and refused data connections.
//!
//! ```text
//! cargo run -p ftp-client --example tls_reuse -- HOST PORT USER PASS CERT.pem [N] [tls12|tls13|both]
//! ```
//! `tls12` is the crate's default FTPS policy; `tls13` offers only TLS 1.3; `both`
//! offers 1.2 and 1.3 (the server picks, normally 1.3).

use std::time::Instant;

use ftp_client::{
    CertVerification, ConnectOptions, DataProtection, FtpSession, StoreMode, TlsOptions,
    TlsVersion, certs_from_pem,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!(
            "usage: tls_reuse HOST PORT USER PASS CERT.pem [N] [tls12|tls13|both] [alt|stor|retr]"
        );
        std::process::exit(2);
    }
    let n: usize = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let (min, max) = match args.get(6).map(String::as_str).unwrap_or("tls12") {
        "tls13" => (TlsVersion::Tls13, None),
        "both" => (TlsVersion::Tls12, Some(TlsVersion::Tls13)),
        _ => (TlsVersion::Tls12, None),
    };
    let pattern = args.get(7).map(String::as_str).unwrap_or("alt");
    let mut opts = ConnectOptions::new(&args[0], args[1].parse()?, &args[2], args[3].as_str());
    opts.tls = Some(TlsOptions {
        verification: CertVerification::Full,
        roots: certs_from_pem(&std::fs::read(&args[4])?)?,
        min_version: min,
        max_version: max,
        data_protection: DataProtection::Private,
        ..Default::default()
    });
    let mut session = FtpSession::connect(opts).await?;
    println!("control: {:?}", session.control_tls());
    let content = vec![0x5au8; 4096];
    let (mut resumed, mut failed) = (0, 0);
    let start = Instant::now();
    for i in 0..n {
        let store = match pattern {
            "stor" => true,
            "retr" => i == 0,
            _ => i % 2 == 0,
        };
        let result = if store {
            session
                .store_from(
                    "reuse.bin",
                    StoreMode::Replace,
                    &mut &content[..],
                    &mut |_| {},
                )
                .await
                .map(|_| ())
        } else {
            let mut sink = Vec::new();
            session
                .retrieve_to("reuse.bin", 0, &mut sink, &mut |_| {})
                .await
                .map(|_| ())
        };
        match result {
            Ok(()) => {
                if session.last_data_tls().is_some_and(|t| t.resumed) {
                    resumed += 1;
                }
            }
            Err(e) => {
                failed += 1;
                println!("transfer {i}: {e}");
                if e.session_closed() {
                    break;
                }
            }
        }
    }
    println!(
        "{n} transfers in {:.2?}: {resumed} resumed, {failed} failed",
        start.elapsed()
    );
    let _ = session.quit().await;
    Ok(())
}
