//! Measures TLS session resumption on FTPS data connections: runs N consecutive
//! transfers on one session and counts resumed handshakes and refused transfers.
//!
//! ```text
//! cargo run -p ftp-client --example tls_reuse -- SERVER [N] [tls12|tls13|both] [alt|stor|retr]
//! ```
//! SERVER is `vsftpd`, `proftpd`, `pure-ftpd`, `pyftpdlib` or `libunftp`, started on
//! loopback by `test-servers` (run `scripts/install-test-deps` first). `tls12` is the
//! crate's default FTPS policy; `tls13` offers only TLS 1.3; `both` offers 1.2 and 1.3
//! (the server picks). `alt` alternates STOR and RETR, `stor` uploads only, `retr`
//! downloads only (after one upload).

use std::time::Instant;

use ftp_client::{
    CertVerification, ConnectOptions, DataProtection, FtpSession, StoreMode, TlsOptions,
    TlsVersion, certs_from_pem,
};
use test_servers::{Kind, ServerOptions, start};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(kind) = args
        .first()
        .and_then(|name| Kind::ALL.into_iter().find(|k| k.name() == name))
    else {
        eprintln!("usage: tls_reuse SERVER [N] [tls12|tls13|both] [alt|stor|retr]");
        std::process::exit(2);
    };
    let n: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let versions = args.get(2).map(String::as_str).unwrap_or("tls12");
    let (min, max) = match versions {
        "tls13" => (TlsVersion::Tls13, None),
        "both" => (TlsVersion::Tls12, Some(TlsVersion::Tls13)),
        _ => (TlsVersion::Tls12, None),
    };
    let pattern = args.get(3).map(String::as_str).unwrap_or("alt");

    let srv = start(
        kind,
        ServerOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await?;
    let mut opts = ConnectOptions::new(
        srv.addr.ip().to_string(),
        srv.addr.port(),
        srv.user.clone(),
        srv.password.as_str(),
    );
    opts.tls = Some(TlsOptions {
        verification: CertVerification::Full,
        roots: certs_from_pem(&std::fs::read(srv.cert_pem.as_ref().ok_or("no cert")?)?)?,
        min_version: min,
        max_version: max,
        data_protection: DataProtection::Private,
        ..Default::default()
    });
    let mut session = FtpSession::connect(opts).await?;
    let content = vec![0x5au8; 4096];
    let (mut resumed, mut failed) = (0, 0);
    let started = Instant::now();
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
        "{kind} {versions} {pattern}: control {:?}; {n} transfers in {:.2?}: {resumed} resumed, {failed} failed",
        session.control_tls().and_then(|t| t.version),
        started.elapsed()
    );
    let _ = session.quit().await;
    Ok(())
}
